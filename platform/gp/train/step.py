"""One training step: every update of the model on one batch.

The platform owns zero_grad, backward, optimizer steps, mixed precision and clipping, so
a plugin only computes losses. Losses stay on the device (no host sync per step).
"""
from __future__ import annotations

import contextlib

import torch


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
        self.optimizers = optimizers
        if self.sync is not None:  # a phase may have built or re-initialised layers
            self.sync.broadcast(self.model)

    def _context(self, device):
        if not self.autocast:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)

    def __call__(self, batch: dict) -> dict[str, torch.Tensor]:
        """Run every update once, in order; return detached losses ``{update/name: (,)}``."""
        out: dict[str, torch.Tensor] = {}
        for update in self.model.updates:
            opt = self.optimizers[update]
            opt.zero_grad(set_to_none=True)
            with self._context(batch["x"].device):
                losses = self.wrapped(batch, update)
            losses["loss"].backward()
            if self.sync is not None:
                self.sync(opt)
            if self.grad_clip:
                params = [p for g in opt.param_groups for p in g["params"]]
                torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
            opt.step()
            out.update({f"{update}/{k}": v.detach().float() for k, v in losses.items()})
        return out


def batches(data, rank: int, world: int, batch_size: int, seed: int, epoch: int, limit: int | None = None):
    """Yield this rank's batches of one epoch as whole-tensor slices.

    A permutation seeded by (seed, epoch) is split across ranks; every rank gets the same
    number of full batches, so collective operations stay in step.
    """
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    perm = torch.randperm(len(data.x), generator=g)[rank::world].to(data.x.device)  # one copy (a host sync) per epoch
    local = max(1, batch_size // world)
    steps = (len(data.x) // world) // local
    if limit:
        steps = min(steps, limit)
    for i in range(steps):
        idx = perm[i * local : (i + 1) * local]
        yield {"x": data.x[idx], "y": data.y[idx]}
