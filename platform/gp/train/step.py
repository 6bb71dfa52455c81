"""One training step: every update of the model on its batch, and the batches of an epoch.

The platform owns zero_grad, backward, optimizer steps, mixed precision and clipping, so
a plugin only computes losses. Losses stay on the device (no host sync per step).

A step's input is one batch ``{"x": (B, *shape), "y": (B,)}`` when every update takes the
step's batch, else a dict of batches keyed by slot (:func:`slots`): ``"step"``, one
``"freshI"`` per "fresh" update I, and ``"labelled"`` (see ``GenerativeModel.batch_sources``).
Images held as uint8 become float32 in [0, 1] here, per batch, on the data's device.
"""
from __future__ import annotations

import contextlib

import torch

from gp.data.spec import as_float
from gp.errors import GpError
from gp.model import BATCH_SOURCES


class Stepper:
    """Runs ``model.updates`` on a batch through ``wrapped`` (the model, or its DDP wrapper);
    with ``sync``, each update's gradients are averaged across workers before its step."""

    def __init__(self, wrapped, model, optimizers: dict, precision: str = "fp32", grad_clip: float | None = None,
                 sync=None):
        self.wrapped, self.model, self.sync = wrapped, model, sync  # sync: a gp.train.sync.GradSync or None
        self.grad_clip = grad_clip
        self.autocast = precision == "bf16"
        self.use(optimizers)

    def use(self, optimizers: dict) -> None:
        """Step with these optimizers from now on (one per update name)."""
        missing = set(self.model.updates) - set(optimizers)
        if missing:
            raise ValueError(f"{self.model.name}: no optimizer for update(s) {sorted(missing)}")
        self.optimizers, self.slots = optimizers, slots(self.model)
        if self.sync is not None:  # a phase may have built or re-initialised layers
            self.sync.broadcast(self.model)

    def _context(self, device):
        if not self.autocast:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)

    def __call__(self, batch: dict) -> dict[str, torch.Tensor]:
        """Run every update once, in order; return detached losses ``{update/name: (,)}``."""
        out: dict[str, torch.Tensor] = {}
        for update, slot in zip(self.model.updates, self.slots):
            opt, part = self.optimizers[update], batch if "x" in batch else batch[slot]
            opt.zero_grad(set_to_none=True)
            with self._context(part["x"].device):
                losses = self.wrapped(part, update)
            losses["loss"].backward()
            if self.sync is not None:
                self.sync(opt)
            if self.grad_clip:
                params = [p for g in opt.param_groups for p in g["params"]]
                torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
            opt.step()
            out.update({f"{update}/{k}": v.detach().float() for k, v in losses.items()})
        return out


def slots(model) -> tuple[str, ...]:
    """The input slot of each update: "step", "freshI" (I: the update's index) or "labelled"."""
    sources = tuple(model.batch_sources)
    bad = [x for x in sources if x not in BATCH_SOURCES]
    if len(sources) != len(model.updates) or bad:
        raise GpError(f"plugin {model.name}: batch_sources must name one of {', '.join(BATCH_SOURCES)} for each of "
                      f"its {len(model.updates)} updates (got {sources})")
    return tuple(f"fresh{i}" if x == "fresh" else x for i, x in enumerate(sources))


def draws_per_step(sources) -> int:
    """Batches of the epoch's shuffled data one step uses: one per "fresh" update, plus the
    step's batch if any update takes it (at least one, so an epoch is a pass over the data)."""
    return max(1, sum(x == "fresh" for x in sources) + ("step" in sources))


def steps_per_epoch(n: int, batch_size: int, world: int, cap: int | None = None, per_step: int = 1) -> int:
    """Steps in one epoch of ``n`` examples: every rank takes ``batch_size // world`` examples
    ``per_step`` times a step from its share, in full batches only; at most ``cap``."""
    local = max(1, batch_size // world)
    steps = (n // world) // local // per_step
    return min(steps, cap) if cap else steps


def check_sources(model, data) -> None:
    """One line if ``model`` has an update on labelled batches and ``data`` has no labels."""
    if "labelled" in model.batch_sources and not bool((data.y >= 0).any()):
        update = model.updates[list(model.batch_sources).index("labelled")]
        raise GpError(f"plugin {model.name}: update '{update}' trains on labelled examples but the training data has "
                      "none; keep some labels (data.labelled=N) or use a labelled dataset")


def batches(data, rank: int, world: int, batch_size: int, seed: int, epoch: int, limit: int | None = None,
            sources=("step",)):
    """Yield this rank's step inputs of one epoch as whole-tensor slices.

    A permutation seeded by (seed, epoch) is split across ranks; every rank gets the same
    number of steps, so collective operations stay in step. A step takes
    ``draws_per_step(sources)`` consecutive batches of it; "labelled" batches come from a
    separate stream of this rank's labelled examples (:class:`LabelledDraws`).
    """
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    perm = torch.randperm(len(data.x), generator=g)[rank::world].to(data.x.device)  # one copy (a host sync) per epoch
    local, per_step = max(1, batch_size // world), draws_per_step(sources)
    steps = steps_per_epoch(len(data.x), batch_size, world, limit, per_step)
    if set(sources) == {"step"}:
        for i in range(steps):
            yield _take(data, perm[i * local : (i + 1) * local])
        return
    labelled = LabelledDraws(data, local, seed * 100_003 + epoch * 1_009 + rank + 1) if "labelled" in sources else None
    for i in range(steps):
        chunks = iter(perm[(i * per_step + j) * local :][:local] for j in range(per_step))
        yield _step_input(data, tuple(sources), chunks, labelled)


def _step_input(data, sources: tuple, chunks, labelled) -> dict:
    """The batches of one step keyed by slot: "step" first, then each "fresh" update's own."""
    out = {"step": _take(data, next(chunks))} if "step" in sources else {}
    for i, source in enumerate(sources):
        if source == "fresh":
            out[f"fresh{i}"] = _take(data, next(chunks))
    if labelled is not None:
        out["labelled"] = labelled.draw()
    return out


def _take(data, idx) -> dict:
    return {"x": as_float(data.x[idx]), "y": data.y[idx]}  # (B, *shape) float (uint8 images converted here), (B,)


class LabelledDraws:
    """Batches of labelled examples only (label >= 0), ``size`` each (fewer if there are
    fewer labels): a fresh permutation of them each time one is used up."""

    def __init__(self, data, size: int, seed: int):
        self.data, self.g = data, torch.Generator().manual_seed(seed)
        self.index = (data.y >= 0).nonzero().squeeze(1)  # (L,), one host sync per epoch
        if not len(self.index):
            raise GpError("an update trains on labelled examples but this worker's data has none; "
                          "keep some labels (data.labelled=N)")
        self.size, self.order, self.at = min(size, len(self.index)), self.index[:0], 0

    def draw(self) -> dict:
        if self.at + self.size > len(self.order):
            self.order = self.index[torch.randperm(len(self.index), generator=self.g).to(self.index.device)]
            self.at = 0
        idx, self.at = self.order[self.at : self.at + self.size], self.at + self.size
        return _take(self.data, idx)
