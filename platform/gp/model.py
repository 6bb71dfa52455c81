"""The model contract every gp plugin implements: every part of it is declared here.

A model is a ``torch.nn.Module`` subclassing :class:`GenerativeModel`. It sets, on the class:

- ``name`` (the ``plugin=`` value), ``family`` (one of :data:`FAMILIES`, a label for people:
  ``gp eval`` picks metrics by capability, not by family) and ``Config`` (a
  :class:`ModelConfig` whose every field has a default and a description);
- ``tiny`` (config overrides for seconds-long CPU tests) and ``kinds`` (:data:`KINDS`);
- ``conditional``: the class *can* honour labels in ``sample(n, y)`` (for some config);
  ``is_conditional`` answers for one instance (override it when the config decides);
- ``log_prob_exact``: ``log_prob`` is exact rather than a bound;
- ``cuda_graph`` and ``channels_last``: set False to opt out of those speed-ups.

Per instance it gives the ordered ``updates`` it takes per batch and one optimizer per update
name (``configure_optimizers``). ``forward(batch, update)`` returns a dict of scalar losses
whose ``"loss"`` entry is minimised by that update's optimizer; all losses go through
``forward`` so DDP synchronises gradients. ``sample(n, y=None)`` returns ``(n, *data.shape)``.
The training loop owns zero_grad, backward, step, device placement, precision and clipping.

Optional capabilities (:data:`CAPABILITIES`) are declared by implementing them; they are
``None`` here: ``encode(x)`` -> codes ``(B, d)``, ``decode(z)`` -> data ``(B, *shape)``,
``log_prob(x)`` -> nats per example ``(B,)``; a bound may take ``k`` importance samples
(``log_prob(x, k=None)``, default ``log_prob_k``). ``figures(data)`` may return extra
pictures ``{name: uint8 array}`` that rank 0 logs every epoch, from a held-out split.

Models that train in phases (greedy layer-wise pretraining, then fine-tuning) return the
phase of every epoch from ``phases(epochs)``; the loop calls ``begin_phase(name)`` when the
phase changes (and on resume) and then rebuilds the optimizers, so ``updates`` and
``configure_optimizers`` may depend on ``self.phase``. :mod:`gp.contract` checks all this
when a plugin loads and before a job trains.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import pydantic
import torch
from torch import nn

# ---- contract declarations (gp.contract checks them; docs/writing-plugins.md documents them)
#: Optional methods a model may implement; ``gp plugins`` lists them (plus ``conditional``).
CAPABILITIES = ("encode", "decode", "log_prob", "classify")
#: Data kinds a model may take: ``(C, H, W)`` images in [0, 1], ``(D,)`` points in R^D.
KINDS = ("image", "points")
#: Known families and the capabilities their built-ins have (``gp eval`` reads capabilities).
FAMILIES = {
    "gan": "samples only: sample metrics (FID, KID, precision/recall, 1-NN, CS on images)",
    "vae": "encode, decode, log_prob (a bound): sample metrics, nll, recon",
    "autoencoder": "encode, decode: sample metrics, recon",
    "autoregressive": "log_prob (exact): sample metrics, nll",
    "linear": "log_prob (exact) or encode/decode: sample metrics plus nll or recon",
    "other": "whatever capabilities it implements",
}
#: Class-level flags: each must be a bool.
FLAGS = ("conditional", "log_prob_exact", "cuda_graph", "channels_last")
# ---- end of contract declarations
#: Where an update's batch comes from (:attr:`GenerativeModel.batch_sources`).
BATCH_SOURCES = ("step", "fresh", "labelled")


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
    #: Labelled training examples when only some are labelled (``data.labelled``), else None.
    labelled: int | None = None

    @property
    def dim(self) -> int:
        return int(torch.tensor(self.shape).prod())


class GenerativeModel(nn.Module):
    """Base class of gp models. Subclasses set ``name``, ``family`` and ``Config``."""

    # ---- contract: class-level declarations (see the module docstring)
    #: The ``plugin=`` name.
    name: ClassVar[str] = ""
    #: One of :data:`FAMILIES` (shown by ``gp plugins``; metrics follow capabilities).
    family: ClassVar[str] = ""
    #: The config class: every field has a default and a description.
    Config: ClassVar[type[ModelConfig]] = ModelConfig
    #: Overrides that make the model tiny, for seconds-long CPU tests.
    tiny: ClassVar[dict] = {}
    #: Data kinds the model can train on (a subset of :data:`KINDS`).
    kinds: ClassVar[tuple[str, ...]] = ("image",)
    #: True if ``log_prob`` is exact, False if it is a bound.
    log_prob_exact: ClassVar[bool] = False
    #: True if the class can honour class labels ``y`` (n,) in ``sample(n, y)`` (for some
    #: config); whether one instance does is :attr:`is_conditional`.
    conditional: ClassVar[bool] = False
    #: False opts out of capturing the step in a CUDA graph (Python-side randomness or control flow).
    cuda_graph: ClassVar[bool] = True
    #: False opts out of channels-last memory format for 2-D convolutions.
    channels_last: ClassVar[bool] = True
    #: Optional capabilities: ``encode(x)`` (B, *shape) -> (B, d), ``decode(z)`` (B, d) ->
    #: (B, *shape), ``log_prob(x[, k])`` -> (B,) nats, ``classify(x)`` (B, *shape) -> (B,)
    #: predicted classes; ``class_logits(x)`` (B, *shape) -> (B, K), the logits behind
    #: ``classify``, with gradients (``gp eval`` trains a fresh model's on the labels alone, a
    #: baseline for semi-supervised accuracy); ``figures(data)`` -> {name: uint8 array}.
    encode = decode = log_prob = classify = class_logits = figures = None
    # ---- end of class-level declarations

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

    @property
    def batch_sources(self) -> tuple[str, ...]:
        """Where each update (aligned with ``updates``) takes its batch from (``BATCH_SOURCES``):
        ``"step"`` the step's batch (shared by every "step" update), ``"fresh"`` a batch of its
        own from the epoch's shuffled data, ``"labelled"`` a batch of labelled examples only."""
        return ("step",) * len(self.updates)

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

    # ---- contract: instance-level answers
    @property
    def is_conditional(self) -> bool:
        """Whether this instance's ``sample(n, y)`` honours ``y``; by default the class's
        ``conditional`` (override when the config decides)."""
        return type(self).conditional

    @property
    def can_classify(self) -> bool:
        """Whether this instance's ``classify`` works; by default whether the class has one
        (override when the config decides, as the AAE's variant does)."""
        return callable(type(self).classify)

    @property
    def log_prob_k(self) -> int | None:
        """Importance samples ``log_prob`` uses when not given ``k`` (a bound that takes ``k``),
        else None."""
        return None
    # ---- end of instance-level answers

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
