"""``cifar10``: CIFAR-10 (Krizhevsky 2009, "Learning Multiple Layers of Features from Tiny
Images"), 50,000 training and 10,000 test colour images of 32x32 in 10 classes, read from
the python-format files the user has (nothing downloads).

``data.root`` is a folder holding ``data_batch_1`` ... ``data_batch_5`` and ``test_batch``,
or the folder above it holding ``cifar-10-batches-py/``, or one holding the unextracted
``cifar-10-python.tar.gz``. Each file is a pickled dict with ``data`` (10000, 3072) uint8, rows
in R, G, B planes of 32x32, and ``labels`` (10000,). They are unpickled without running code:
only numpy arrays may be rebuilt (:class:`ArraysOnly`).
"""
from __future__ import annotations

import io
import pathlib
import pickle
import tarfile

import numpy as np
import torch

from gp.config import data_options
from gp.data.options import RootOptions
from gp.data.spec import Dataset
from gp.errors import GpError
from gp.model import DataSpec

FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
FOLDER, ARCHIVE = "cifar-10-batches-py", "cifar-10-python.tar.gz"
EXPECTED = f"data_batch_1 ... data_batch_5 and test_batch (from {ARCHIVE}, folder {FOLDER}/)"


class ArraysOnly(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and nothing else (a pickle can run any code)."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"),
               ("_codecs", "encode")}  # protocol 2 pickles of bytes written by Python 3

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name}")
        return super().find_class(module, name)


def read_batch(raw: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch -> images (n, 3, 32, 32) uint8 and labels (n,) int64."""
    try:
        d = ArraysOnly(io.BytesIO(raw), encoding="bytes").load()
        data, labels = np.asarray(d[b"data"], dtype=np.uint8), np.asarray(d[b"labels"], dtype=np.int64)
        return data.reshape(-1, 3, 32, 32), labels
    except Exception as exc:
        raise GpError(f"{name} is not a CIFAR-10 python batch ({type(exc).__name__}: {exc}); "
                      f"re-extract {ARCHIVE}") from None


def find(root: pathlib.Path) -> pathlib.Path | None:
    """The folder or archive under ``root`` that holds the batches, or None."""
    for candidate in (root, root / FOLDER):
        if (candidate / "test_batch").is_file():
            return candidate
    return root / ARCHIVE if (root / ARCHIVE).is_file() else None


def raw_files(where: pathlib.Path, names: list[str]) -> dict[str, bytes]:
    """The named batch files' bytes, from a folder or the archive (one-line error if one is missing)."""
    if where.is_dir():
        missing = [n for n in names if not (where / n).is_file()]
        if missing:
            raise GpError(f"dataset cifar10: {where / missing[0]} not found; data.root needs {EXPECTED}")
        return {n: (where / n).read_bytes() for n in names}
    with tarfile.open(where, "r:gz") as tar:
        members = {pathlib.PurePath(m.name).name: m for m in tar.getmembers() if m.isfile()}
        missing = [n for n in names if n not in members]
        if missing:
            raise GpError(f"dataset cifar10: {where} has no {missing[0]}; data.root needs {EXPECTED}")
        return {n: tar.extractfile(members[n]).read() for n in names}


def cifar10(cfg, split):
    root = RootOptions.model_validate(data_options(cfg)).root
    if not root:
        raise GpError(f"dataset cifar10 needs data.root=DIR holding CIFAR-10's python files: {EXPECTED}")
    where = find(pathlib.Path(root).expanduser())
    if where is None:
        raise GpError(f"dataset cifar10: no CIFAR-10 files under {root}; data.root needs {EXPECTED}")
    parts = [read_batch(raw, name) for name, raw in raw_files(where, FILES[split]).items()]
    x = torch.from_numpy(np.concatenate([p[0] for p in parts]))  # (N, 3, 32, 32) uint8
    y = torch.from_numpy(np.concatenate([p[1] for p in parts]))  # (N,)
    return Dataset(x, y, DataSpec((3, 32, 32), 10, "image"))
