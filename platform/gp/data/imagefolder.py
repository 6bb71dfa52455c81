"""``imagefolder``: every PNG, JPEG and WebP image under ``data.root``, as uint8 tensors.

Labels come from the first-level subfolders (``ROOT/cat/1.png`` is class ``cat``; classes
numbered in sorted order; an image directly in ``ROOT`` is unlabelled, -1); a folder with
no subfolders is unlabelled. Each image is centre-cropped to a square and resized to
``data.size`` (Pillow's ``ImageOps.fit``, bicubic), then made grey or RGB (``data.channels``).

The held-out split is ``ROOT/test/`` when that folder exists (training images then come from
``ROOT/train/`` if it exists, else from the rest of ``ROOT``), else a fixed-seed share
``data.test_fraction`` of the images.

Decoding happens once: the decoded images (uint8, both splits) are kept in
``$GP_HOME/cache/imagefolder/`` under a key of the folder's contents (every image's path,
size and modification time) and of ``size``, ``channels`` and ``test_fraction``, so a later run (and every
worker on the same machine) starts from the cache; a changed folder is decoded again.
Unreadable files are skipped and named in one warning line; hidden files and folders (a name
starting with ".") are not read.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import os
import pathlib
import sys
from typing import Literal

import numpy as np
import torch
from pydantic import Field, PositiveInt

from gp.config import data_options
from gp.data.options import DataOptions
from gp.data.spec import Dataset
from gp.errors import GpError
from gp.model import DataSpec

SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
VERSION = 1  # of the cache's layout and of the decoding; a change decodes every folder again
BAR_FROM = 500  # images; a smaller folder decodes without a progress bar


class FolderOptions(DataOptions):
    """``imagefolder``'s own keys."""

    root: str | None = Field(None, description="folder of PNG/JPEG/WebP images (class subfolders optional)")
    size: PositiveInt = Field(32, description="side of the square images, in pixels (centre crop, then resize)")
    channels: Literal[1, 3] = Field(3, description="1: grey, 3: RGB")
    test_fraction: float = Field(0.1, gt=0, lt=1, description="held-out share when there is no test/ subfolder")


class Listing:
    """The image files of a folder: relative paths (sorted), sizes and modification times."""

    def __init__(self, root: pathlib.Path):
        self.root = root
        self.files: list[tuple[str, int, int]] = sorted(_walk(root, ""))  # (relative path, bytes, mtime ns)

    def key(self, size: int, channels: int, fraction: float) -> str:
        """A digest of everything the decoded splits depend on."""
        h = hashlib.sha256(f"{VERSION} {size} {channels} {fraction}\n".encode())
        for rel, nbytes, mtime in self.files:
            h.update(f"{rel}\0{nbytes}\0{mtime}\n".encode())
        return h.hexdigest()[:24]


def _walk(root: pathlib.Path, prefix: str):
    """(relative path, bytes, mtime ns) of every image file under ``root``, in any order."""
    with os.scandir(root) as entries:
        for e in entries:
            if e.name.startswith("."):  # .DS_Store, ._x.jpg (macOS), .ipynb_checkpoints/
                continue
            rel = prefix + e.name
            if e.is_dir():
                yield from _walk(pathlib.Path(e.path), rel + "/")
            elif e.name.lower().endswith(SUFFIXES) and e.is_file():
                st = e.stat()
                yield rel, st.st_size, st.st_mtime_ns


def decode(path: str, size: int, channels: int) -> np.ndarray | None:
    """One image as uint8 (channels, size, size), or None if it cannot be read."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as img:
            upright = ImageOps.exif_transpose(img)  # photos stored sideways with an EXIF orientation
            img = ImageOps.fit(upright.convert("L" if channels == 1 else "RGB"), (size, size),
                               Image.Resampling.BICUBIC)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    a = np.asarray(img, dtype=np.uint8)  # (size, size) or (size, size, 3)
    return a[None] if channels == 1 else a.transpose(2, 0, 1)


def decode_all(root: pathlib.Path, rels: list[str], size: int, channels: int, bar) -> tuple[np.ndarray, np.ndarray]:
    """The images ``rels`` decoded: (x (n, C, S, S) uint8 of the readable ones, in order;
    a mask (len(rels),) of which were readable). Threads: Pillow decodes without the GIL."""
    x = np.empty((len(rels), channels, size, size), np.uint8)
    ok, n = np.zeros(len(rels), bool), 0
    with concurrent.futures.ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        for i, img in enumerate(pool.map(lambda r: decode(str(root / r), size, channels), rels)):
            if img is not None:
                x[n], ok[i], n = img, True, n + 1  # compacted as it goes: no second copy
            bar.update()
    return x[:n], ok


def build(listing: Listing, opts: FolderOptions) -> dict:
    """Both splits decoded: ``x_train``, ``y_train``, ``x_test``, ``y_test``, ``classes``, ``skipped``."""
    from tqdm import tqdm

    rels = [rel for rel, _, _ in listing.files]
    classes = class_names(rels, listing.root)
    out: dict = {"classes": np.array(classes, dtype=str)}
    skipped: list[str] = []
    bar = tqdm(total=len(rels), desc=f"gp: decoding {listing.root}", unit="img", file=sys.stderr,
               disable=len(rels) < BAR_FROM, leave=False)
    with bar:
        for split in ("train", "test"):
            idx, inner = split_of(rels, listing.root, split, opts.test_fraction)
            x, ok = decode_all(listing.root, [rels[i] for i in idx], opts.size, opts.channels, bar)
            out[f"x_{split}"], out[f"y_{split}"] = x, labels(inner, classes)[ok]
            skipped += [rels[i] for i, good in zip(idx, ok) if not good]
    if not len(out["x_train"]) + len(out["x_test"]):
        raise GpError(f"dataset imagefolder: none of the {len(rels)} image files under {listing.root} could be read "
                      f"(first: {skipped[0]}); check the files or fix data.root")
    out["skipped"] = np.array(sorted(skipped), dtype=str)
    return out


def cache_path(root: pathlib.Path, key: str) -> pathlib.Path:
    """``$GP_HOME/cache/imagefolder/<folder digest>-<contents key>.npz``."""
    from gp.tracking import home

    where = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    return home() / "cache" / "imagefolder" / f"{where}-{key}.npz"


def cached(opts: FolderOptions, split: str) -> tuple[np.ndarray, np.ndarray, int, list[str]]:
    """One split of the folder, from the cache (decoded and cached first if need be):
    images (n, C, S, S) uint8, labels (n,), the number of classes, the unreadable files."""
    root = folder(opts.root)
    listing = Listing(root)
    if not listing.files:
        raise GpError(f"dataset imagefolder: no PNG, JPEG or WebP images under {root}; put images there or fix data.root")
    path = cache_path(root, listing.key(opts.size, opts.channels, opts.test_fraction))
    if not path.exists():
        save(path, build(listing, opts))
    with np.load(path) as f:  # reads only the members asked for
        return f[f"x_{split}"], f[f"y_{split}"], len(f["classes"]), [str(s) for s in f["skipped"]]


def save(path: pathlib.Path, arrays: dict) -> None:
    """Write the cache atomically and remove this folder's older caches."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    tmp.replace(path)
    for old in path.parent.glob(path.name.split("-")[0] + "-*.npz"):
        if old != path:
            old.unlink(missing_ok=True)


def folder(root: str | None) -> pathlib.Path:
    """``data.root`` as an existing folder (one-line errors)."""
    if not root:
        raise GpError("dataset imagefolder needs data.root=DIR, a folder of PNG/JPEG/WebP images "
                      "(one subfolder per class, optional)")
    path = pathlib.Path(root).expanduser().resolve()
    if not path.is_dir():
        raise GpError(f"dataset imagefolder: no folder {path}; fix data.root")
    return path


def split_of(rels: list[str], root: pathlib.Path, split: str, fraction: float) -> tuple[list[int], list[str]]:
    """Indices of ``split``'s images among ``rels``, and each one's path below its split's folder."""
    if (root / "test").is_dir():
        top = "test/" if split == "test" else ("train/" if (root / "train").is_dir() else "")
        idx = [i for i, p in enumerate(rels) if p.startswith(top) and (top or not p.startswith("test/"))]
        return idx, [rels[i][len(top):] for i in idx]
    n = len(rels)
    held = min(max(1, round(n * fraction)), n - 1) if n > 1 else 0
    perm = np.random.default_rng(0).permutation(n)  # fixed: the same split on every machine and run
    idx = sorted(int(i) for i in (perm[:held] if split == "test" else perm[held:]))
    return idx, [rels[i] for i in idx]


def labels(inner: list[str], classes: list[str]) -> np.ndarray:
    """Each image's class index from its first subfolder (-1 for an image in the split's own folder)."""
    number = {c: i for i, c in enumerate(classes)}
    return np.array([number[p.split("/")[0]] if "/" in p else -1 for p in inner], dtype=np.int64)


def class_names(rels: list[str], root: pathlib.Path) -> list[str]:
    """The sorted class names of both splits (first-level subfolders holding images)."""
    names = set()
    for split in ("train", "test"):  # together every image, whatever the fraction
        names |= {p.split("/")[0] for p in split_of(rels, root, split, 0.5)[1] if "/" in p}
    return sorted(names)


def imagefolder(cfg, split):
    opts = FolderOptions.model_validate(data_options(cfg))
    x, y, classes, skipped = cached(opts, split)
    if split == "train" and skipped:
        warn_skipped(opts.root, skipped)
    spec = DataSpec((opts.channels, opts.size, opts.size), classes, "image")
    return Dataset(torch.from_numpy(x), torch.from_numpy(y), spec)  # (n, C, S, S) uint8, (n,) int64


def warn_skipped(root, skipped: list[str]) -> None:
    """One line on stderr naming the files that could not be read."""
    shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
    print(f"gp: warning: skipped {len(skipped)} unreadable image file{'s' * (len(skipped) != 1)} under {root}: {shown}",
          file=sys.stderr, flush=True)
