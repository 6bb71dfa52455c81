"""Download Fashion-MNIST's four IDX files (for machines without Debian's package).

Usage: python scripts/download_fashion_mnist.py DIR, then train with data.root=DIR.
"""
import pathlib
import sys
import urllib.request

BASE = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def main(target: str) -> None:
    root = pathlib.Path(target).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if not (root / name).exists():
            try:
                urllib.request.urlretrieve(BASE + name, root / name)
            except OSError as exc:
                sys.exit(f"download of {name} failed ({exc}); install Debian's dataset-fashion-mnist instead")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "~/.gp/fashion-mnist")
