"""Reader for the IDX format of MNIST and Fashion-MNIST (LeCun et al. 1998).

Files may be gzip-compressed. Truncated or malformed files raise :class:`GpError`.
"""
from __future__ import annotations

import gzip
import pathlib

import numpy as np

from gp.errors import GpError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: pathlib.Path) -> np.ndarray:
    """Read one IDX file (``.gz`` or plain) into an array of its declared shape."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise GpError(f"cannot read {path}: {exc}; re-download or reinstall the dataset") from None
    return _parse(raw, path)


def _parse(raw: bytes, path) -> np.ndarray:
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise GpError(f"{path} is not an IDX file; re-download or reinstall the dataset")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[raw[2]])
    need = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != need:
        raise GpError(
            f"{path} is truncated or corrupt ({len(raw)} bytes, expected {need}); "
            "re-download or reinstall the dataset"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def find(root: pathlib.Path, stem: str) -> pathlib.Path | None:
    """``root/stem`` or ``root/stem.gz``, whichever exists."""
    for name in (stem, stem + ".gz"):
        if (root / name).exists():
            return root / name
    return None
