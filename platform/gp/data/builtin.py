"""Built-in datasets, registered through the same entry-point group as any plugin.

- ``fashion-mnist``: Xiao et al. 2017, IDX files from Debian's ``dataset-fashion-mnist``.
- ``mnist``: LeCun et al. 1998, IDX files under ``data.root``.
- ``digits``: scikit-learn's 8x8 digits (1,797 images, embedded in scikit-learn).
- ``toy2d``: 2-D mixtures (ring of 8 and grid of 25 Gaussians, swiss roll).
- ``imagefolder``: the user's own images (:mod:`gp.data.imagefolder`).
- ``cifar10``: Krizhevsky 2009, the python-format files under ``data.root`` (:mod:`gp.data.cifar10`).
"""
from __future__ import annotations

import gzip
import importlib.util
import pathlib
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from gp import hookimpl
from gp.config import data_options
from gp.data import idx
from gp.data.cifar10 import cifar10
from gp.data.imagefolder import FolderOptions, imagefolder
from gp.data.options import DataOptions, RootOptions
from gp.data.spec import Dataset, Modes
from gp.errors import GpError
from gp.model import DataSpec

FASHION_ROOT = pathlib.Path("/usr/share/datasets/fashion-mnist")
_FILES = {"train": "train-{}-idx{}-ubyte", "test": "t10k-{}-idx{}-ubyte"}


def _idx_dataset(root, split: str, how_to_get: str) -> Dataset:
    root = pathlib.Path(root)
    stems = [_FILES[split].format("images", 3), _FILES[split].format("labels", 1)]
    paths = [idx.find(root, s) for s in stems]
    if None in paths:
        missing = stems[paths.index(None)]
        raise GpError(f"dataset file {root / missing}[.gz] not found; {how_to_get}")
    images, labels = (idx.read_idx(p) for p in paths)
    if len(images) != len(labels) or images.ndim != 3:
        raise GpError(f"IDX files under {root} do not match; re-download or reinstall the dataset")
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)  # (N, 1, 28, 28)
    y = torch.from_numpy(labels.astype(np.int64))
    return Dataset(x, y, DataSpec(tuple(x.shape[1:]), 10, "image"))


def fashion_mnist(cfg, split):
    hint = "install it with 'apt-get install dataset-fashion-mnist' or set data.root=DIR with the IDX files"
    return _idx_dataset(_root(cfg) or FASHION_ROOT, split, hint)


def mnist(cfg, split):
    if not _root(cfg):
        raise GpError("dataset mnist needs data.root=DIR holding the MNIST IDX files (train-images-idx3-ubyte[.gz], ...)")
    return _idx_dataset(_root(cfg), split, "put the MNIST IDX files there or fix data.root")


def _root(cfg) -> str | None:
    return RootOptions.model_validate(data_options(cfg)).root


def digits(cfg, split):
    table = digits_table()  # (1797, 65): 64 pixels in 0..16, then the label
    x = torch.tensor(table[:, :64], dtype=torch.float32).view(-1, 1, 8, 8) / 16.0  # (1797, 1, 8, 8)
    y = torch.tensor(table[:, 64], dtype=torch.int64)
    cut = 1500  # fixed split: first 1,500 train, last 297 test
    sl = slice(0, cut) if split == "train" else slice(cut, None)
    return Dataset(x[sl], y[sl], DataSpec((1, 8, 8), 10, "image"))


def digits_table() -> np.ndarray:
    """scikit-learn's ``digits.csv.gz``, read as ``load_digits`` reads it but without importing
    scikit-learn (its import is slow, and would be paid at every start of a job and of each
    worker)."""
    spec = importlib.util.find_spec("sklearn")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise GpError("dataset digits needs scikit-learn: pip install scikit-learn")
    path = pathlib.Path(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    if not path.exists():  # another scikit-learn layout: its own loader
        from sklearn.datasets import load_digits

        d = load_digits()
        return np.column_stack([d.data, d.target])
    with gzip.open(path, "rt") as f:
        return np.loadtxt(f, delimiter=",")


STD = {"ring": 0.02, "grid": 0.05}  # each mode's standard deviation (VEEGAN, PacGAN)


def toy_points(kind: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Points (n, 2) and mode labels (n,) of a 2-D mixture."""
    g = torch.Generator().manual_seed(seed)
    if kind == "swissroll":
        t = 1.5 * torch.pi * (1 + 2 * torch.rand(n, generator=g))
        x = torch.stack([t * torch.cos(t), t * torch.sin(t)], 1) / 5 + 0.05 * torch.randn(n, 2, generator=g)
        return x, torch.zeros(n, dtype=torch.int64)
    means = centres(kind)  # (M, 2)
    y = torch.randint(len(means), (n,), generator=g)
    return means[y] + STD[kind] * torch.randn(n, 2, generator=g), y


def centres(kind: str) -> torch.Tensor:
    """Mode centres (M, 2) of the ring or the grid."""
    if kind == "ring":  # 8 Gaussians on a circle of radius 2 (VEEGAN)
        a = torch.arange(8) * 2 * torch.pi / 8
        return 2 * torch.stack([torch.cos(a), torch.sin(a)], 1)
    if kind == "grid":  # 25 Gaussians at (i, j), i, j in -4, -2, 0, 2, 4 (PacGAN's config.py)
        g = torch.arange(-4, 5, 2, dtype=torch.float32)
        return torch.cartesian_prod(g, g)
    raise GpError(f"unknown toy2d kind '{kind}': use ring, grid or swissroll")


def toy2d(cfg, split):
    """50,000 training and 10,000 test points; ring and grid declare their modes for ``gp eval``."""
    n = 50_000 if split == "train" else 10_000
    kind = ToyOptions.model_validate(data_options(cfg)).kind
    x, y = toy_points(kind, n, seed=0 if split == "train" else 1)
    modes = Modes(centres(kind), STD[kind]) if kind in STD else None
    return Dataset(x, y, DataSpec((2,), 0, "points"), modes)


class ToyOptions(DataOptions):
    """``toy2d``'s own key."""

    kind: Literal["grid", "ring", "swissroll"] = Field(
        "grid", description="25 Gaussians on a 5x5 grid, 8 on a ring, or a swiss roll")


@hookimpl
def register_datasets(register):
    register("fashion-mnist", fashion_mnist, "Fashion-MNIST 28x28 grey, 60k/10k (Debian dataset-fashion-mnist)",
             RootOptions)
    register("mnist", mnist, "MNIST 28x28 grey, 60k/10k (IDX files under data.root)", RootOptions)
    register("digits", digits, "scikit-learn 8x8 digits, 1,500/297", DataOptions)
    register("toy2d", toy2d, "2-D mixtures: data.kind=grid|ring|swissroll", ToyOptions)
    register("imagefolder", imagefolder, "your own PNG/JPEG/WebP images: data.root=DIR data.size=32 data.channels=3",
             FolderOptions)
    register("cifar10", cifar10, "CIFAR-10 32x32 RGB, 50k/10k (python-format files under data.root)", RootOptions)
