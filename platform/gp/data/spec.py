"""An in-memory dataset: examples, labels and the :class:`gp.model.DataSpec`.

Images may be held as uint8 (0..255): a quarter of float32's memory. They become float32
in [0, 1] on the training device one batch at a time (:func:`as_float`, called where batches
are drawn and where whole splits are read as floats), so a plugin only ever sees floats.
"""
from __future__ import annotations

import dataclasses

import torch

from gp.model import DataSpec


@dataclasses.dataclass(frozen=True)
class Modes:
    """A mixture's known modes, for mode-coverage evaluation: centres (M, D), one std each."""

    centres: torch.Tensor  # (M, D)
    std: float


@dataclasses.dataclass
class Dataset:
    """Examples ``x`` (N, *shape) as float32 (images in [0, 1]) or, for images, uint8 (0..255),
    and labels ``y`` (N,) as int64 (-1: unlabelled).

    ``modes``: set by datasets drawn from a known mixture (``gp eval`` then scores mode coverage)."""

    x: torch.Tensor
    y: torch.Tensor
    spec: DataSpec
    modes: Modes | None = None

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, limit: int | None) -> "Dataset":
        """The first ``limit`` examples (all when ``limit`` is None)."""
        if limit is None or limit >= len(self):
            return self
        return dataclasses.replace(self, x=self.x[:limit], y=self.y[:limit])

    def as_float(self) -> "Dataset":
        """The same dataset with float32 examples (uint8 images divided by 255)."""
        return dataclasses.replace(self, x=as_float(self.x))


def as_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images (B, C, H, W) -> float32 in [0, 1] on their own device; anything else as is."""
    return x.float().div_(255) if x.dtype == torch.uint8 else x


def load(registry, cfg, split: str = "train") -> Dataset:
    """Load split ``split`` of the dataset ``cfg.name`` through its registered loader."""
    data = registry.dataset(cfg.name)(cfg, split)
    if split != "train":
        return data
    data = data.subset(cfg.limit)
    return hide_labels(data, cfg.labelled, cfg.label_seed) if cfg.labelled else data


def hide_labels(data: Dataset, keep: int, seed: int = 0) -> Dataset:
    """Keep ``keep`` labels, balanced across classes (fixed seed); set the rest to -1."""
    g = torch.Generator().manual_seed(seed)
    classes = max(int(data.y.max()) + 1, 1)
    y = torch.full_like(data.y, -1)
    for c in range(classes):
        idx = (data.y == c).nonzero().squeeze(1)
        chosen = idx[torch.randperm(len(idx), generator=g)[: keep // classes + (c < keep % classes)]]
        y[chosen] = c
    return dataclasses.replace(data, y=y, spec=dataclasses.replace(data.spec, labelled=int((y >= 0).sum())))
