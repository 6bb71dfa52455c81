"""Feature maps for the sample-based metrics.

Images: the reference classifier's penultimate layer (:mod:`gp.eval.classifier`), plus its
class probabilities for the classifier score. Points: the coordinates themselves. Any
user function ``module:function`` mapping (B, *shape) to (B, d) may replace the features.
An :class:`Extractor` is plain data, so it travels to Ray tasks.
"""
from __future__ import annotations

import dataclasses
import importlib

import torch

from gp.errors import GpError


def load_callable(path: str):
    """``"package.module:function"`` -> the function (one-line error if it is not there)."""
    module, _, name = path.partition(":")
    if not module or not name:
        raise GpError(f"feature extractor '{path}' is not module:function (example: mypkg.feats:embed)")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise GpError(f"cannot load feature extractor '{path}': {exc}") from None
    if not callable(fn):
        raise GpError(f"feature extractor '{path}' is not callable")
    return fn


@dataclasses.dataclass
class Extractor:
    """Features and class probabilities of a batch of data.

    ``classifier``: a reference payload (:func:`gp.eval.reference.reference`) or None;
    ``user``: a ``module:function`` path or a callable replacing the features.
    """

    classifier: dict | None = None
    user: object = None
    batch: int = 250  # with channels_last, the fastest batch for the classifier on a CPU

    @property
    def name(self) -> str:
        """What produced the features (part of cache keys and of the run's tags)."""
        if self.user is not None:
            return self.user if isinstance(self.user, str) else getattr(self.user, "__qualname__", "user")
        return f"classifier:{self.classifier['hash']}" if self.classifier else "identity"

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (N, *shape) -> features (N, d) and class probabilities (N, C) or None."""
        net = self._net()
        feats, probs = [], []
        for i in range(0, len(x), self.batch):
            chunk = x[i:i + self.batch].float()
            hidden = None if net is None else net.features(chunk.contiguous(memory_format=torch.channels_last))
            feats.append(self._features(chunk, hidden))
            if net is not None:
                probs.append(torch.softmax(net.head(hidden), 1))
        return torch.cat(feats).float(), (torch.cat(probs) if probs else None)

    def _features(self, chunk: torch.Tensor, hidden: torch.Tensor | None) -> torch.Tensor:
        if self.user is not None:
            fn = load_callable(self.user) if isinstance(self.user, str) else self.user
            return torch.as_tensor(fn(chunk)).reshape(len(chunk), -1)
        return hidden if hidden is not None else chunk.flatten(1)

    def _net(self):
        if self.classifier is None:
            return None
        if getattr(self, "_cached", None) is None:
            from gp.eval.classifier import build

            self._cached = build(self.classifier).to(memory_format=torch.channels_last)
        return self._cached

    def __getstate__(self):  # the built network is not shipped to Ray tasks
        return {k: v for k, v in self.__dict__.items() if k != "_cached"}
