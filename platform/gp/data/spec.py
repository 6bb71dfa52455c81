"""An in-memory dataset: examples, labels and the :class:`gp.model.DataSpec`."""
from __future__ import annotations

import dataclasses

import torch

from gp.model import DataSpec


@dataclasses.dataclass
class Dataset:
    """Examples ``x`` (N, *shape) as float32 (images in [0, 1]) and labels ``y`` (N,)."""

    x: torch.Tensor
    y: torch.Tensor
    spec: DataSpec

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, limit: int | None) -> "Dataset":
        """The first ``limit`` examples (all when ``limit`` is None)."""
        if limit is None or limit >= len(self):
            return self
        return Dataset(self.x[:limit], self.y[:limit], self.spec)


def load(registry, cfg, split: str = "train") -> Dataset:
    """Load split ``split`` of the dataset ``cfg.name`` through its registered loader."""
    data = registry.dataset(cfg.name)(cfg, split)
    return data.subset(cfg.limit) if split == "train" else data
