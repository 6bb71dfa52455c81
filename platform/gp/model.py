"""The model contract every gp plugin implements.

A model is a ``torch.nn.Module`` with a ``name``, a typed ``Config``, the ordered list of
``updates`` it takes per batch and one optimizer per update name. ``forward(batch, update)``
returns a dict of scalar losses whose ``"loss"`` entry is minimised by that update's
optimizer; all losses go through ``forward`` so DDP synchronises gradients. The training
loop owns zero_grad, backward, step, device placement, precision and clipping.

Optional capabilities are declared by implementing them: ``encode(x)``, ``decode(z)``,
``log_prob(x)`` (nats per example; set ``log_prob_exact``). ``figures(data)`` may return
extra pictures (uint8 arrays) that rank 0 logs every epoch, from a held-out split.

Models that train in phases (greedy layer-wise pretraining, then fine-tuning) return the
phase of every epoch from ``phases(epochs)``; the loop calls ``begin_phase(name)`` when the
phase changes (and on resume) and then rebuilds the optimizers, so ``updates`` and
``configure_optimizers`` may depend on ``self.phase``.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import pydantic
import torch
from torch import nn

CAPABILITIES = ("encode", "decode", "log_prob")


class ModelConfig(pydantic.BaseModel):
    """Base for model configs: unknown keys and wrong types are errors."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=False, validate_assignment=True)

    lr: float = pydantic.Field(1e-3, gt=0, description="Adam learning rate of every optimizer")


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about its data: shape of one example and classes."""

    shape: tuple[int, ...]  # (C, H, W) for images, (D,) for points
    num_classes: int = 0
    kind: str = "image"  # "image" in [0, 1] or "points" in R^D

    @property
    def dim(self) -> int:
        return int(torch.tensor(self.shape).prod())


class GenerativeModel(nn.Module):
    """Base class of gp models. Subclasses set ``name``, ``family`` and ``Config``."""

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    Config: ClassVar[type[ModelConfig]] = ModelConfig
    #: Overrides that make the model tiny, for seconds-long CPU tests.
    tiny: ClassVar[dict] = {}
    #: Data kinds the model can train on.
    kinds: ClassVar[tuple[str, ...]] = ("image",)
    log_prob_exact: ClassVar[bool] = False
    #: True if ``sample(n, y)`` honours class labels ``y`` (n,).
    conditional: ClassVar[bool] = False

    def __init__(self, config: ModelConfig, data: DataSpec):
        super().__init__()
        self.config, self.data = config, data
        self.phase = "train"

    def phases(self, epochs: int) -> list[str]:
        """The phase of each of ``epochs`` epochs; by default one phase, ``"train"``."""
        return ["train"] * epochs

    def begin_phase(self, phase: str) -> None:
        """Enter ``phase`` (called before its first epoch, and when resuming inside it)."""
        self.phase = phase

    @property
    def updates(self) -> tuple[str, ...]:
        """Update names in the order they run on every batch (names may repeat)."""
        return ("model",)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One optimizer per distinct update name; default: Adam on all parameters."""
        return {"model": torch.optim.Adam(self.parameters(), lr=self.config.lr)}

    def forward(self, batch: dict, update: str) -> dict[str, torch.Tensor]:
        """Losses of ``update`` on ``batch`` (``{"x": (B, *shape), "y": (B,)}``)."""
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` samples in data space, ``(n, *data.shape)``."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


def leaves_parameters_unused(model) -> bool:
    """True when an update or a phase trains only part of the model: DDP must then look
    for unused parameters (``find_unused_parameters=True``), which costs a graph walk."""
    return len(set(model.updates)) > 1 or len(set(model.phases(100))) > 1


def capabilities(cls) -> list[str]:
    """The optional capabilities a model class implements (plus ``conditional``)."""
    caps = [c for c in CAPABILITIES if callable(getattr(cls, c, None))]
    return caps + (["conditional"] if getattr(cls, "conditional", False) else [])


def config_fields(cls) -> list[tuple[str, str, object, str]]:
    """(name, type, default, description) of every field of a model's config."""
    rows = []
    for key, field in cls.Config.model_fields.items():
        typ = getattr(field.annotation, "__name__", str(field.annotation))
        rows.append((key, typ, field.default, field.description or ""))
    return rows
