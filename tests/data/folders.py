"""Small image folders and CIFAR-10 files made by the tests (nothing is downloaded)."""
import pathlib
import pickle

import numpy as np
from PIL import Image

FORMATS = ("png", "jpg", "webp")


def image(rng, h: int, w: int, mode: str = "RGB") -> Image.Image:
    """A random image of ``h`` x ``w`` pixels in ``mode``."""
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    a = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
    return Image.fromarray(a[..., 0] if mode == "L" else a, mode)


def write(path: pathlib.Path, img: Image.Image) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.convert("RGB").save(path) if path.suffix in (".jpg", ".webp") and img.mode == "RGBA" else img.save(path)
    return path


def populate(root: pathlib.Path, counts: dict[str, int], seed: int = 0) -> list[pathlib.Path]:
    """``counts[class]`` images per class folder ("" for the folder itself), in PNG, JPEG and
    WebP, of various sizes and modes, some in nested subfolders."""
    rng, made = np.random.default_rng(seed), []
    for cls, n in counts.items():
        for i in range(n):
            sub = "deeper/" if cls and i % 7 == 0 else ""
            h, w = int(rng.integers(12, 48)), int(rng.integers(12, 48))
            mode = ("RGB", "RGBA", "L")[i % 3]
            name = f"{cls + '/' if cls else ''}{sub}img{i:03d}.{FORMATS[i % 3]}"
            made.append(write(root / name, image(rng, h, w, mode)))
    return made


def corrupt(root: pathlib.Path) -> list[str]:
    """Three unreadable image files: text named .png, a truncated JPEG, an empty .webp."""
    (root / "cat").mkdir(parents=True, exist_ok=True)
    (root / "cat" / "notes.png").write_text("not an image")
    full = write(root / "cat" / "whole.jpg", image(np.random.default_rng(1), 40, 40)).read_bytes()
    (root / "cat" / "whole.jpg").unlink()
    (root / "cat" / "cut.jpg").write_bytes(full[: len(full) // 3])
    (root / "empty.webp").write_bytes(b"")
    return ["cat/cut.jpg", "cat/notes.png", "empty.webp"]


def cifar_batch(n: int, seed: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    """One batch in CIFAR-10's python format: (pickle bytes, data (n, 3072) uint8, labels (n,)).

    Written as the real files are: protocol 2, bytes keys, numpy arrays whose class is named
    ``numpy.core.multiarray._reconstruct`` (the files were made by Python 2 and numpy 1).
    """
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, n)]
    d = {b"batch_label": b"batch", b"labels": labels, b"data": data, b"filenames": [b"f.png"] * n}
    raw = pickle.dumps(d, protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    return raw, data, np.array(labels)


def cifar_folder(root: pathlib.Path, n: int = 20) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """data_batch_1..5 and test_batch of ``n`` images each under ``root``: name -> (data, labels)."""
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        raw, data, labels = cifar_batch(n, seed=i)
        (root / name).write_bytes(raw)
        out[name] = (data, labels)
    return out
