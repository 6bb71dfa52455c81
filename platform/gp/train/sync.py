"""Data parallelism by update: after each update's backward, the gradients of that update's
optimizer are averaged across workers in one flat all-reduce (``trainer.grad_sync=updates``).

DDP (PyTorch's DistributedDataParallel, Li et al. 2020, "PyTorch Distributed: Experiences on
Accelerating Data Parallel Training") all-reduces every gradient bucket on every backward. A
model with several updates (a GAN's discriminator and generator, an AAE's three) then moves
several models' worth of gradients per step, zeros included for the parameters an update
does not train, and must walk the autograd graph (``find_unused_parameters``) when an update
or phase leaves parameters unused. Averaging only the stepping optimizer's parameters moves
one model's worth of gradients per step and needs no graph walk. The result is DDP's: every
rank starts from rank 0's weights and applies the same averaged gradients.

``trainer.grad_sync=ddp`` keeps torch's DDP (overlaps communication with backward, which
can win for one large update on fast interconnects).
"""
from __future__ import annotations

import torch
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors


class GradSync:
    """Averages gradients and broadcasts weights across the default process group."""

    def __init__(self, world: int):
        self.world = world

    def __call__(self, optimizer) -> None:
        """Average the gradients of ``optimizer``'s parameters over the workers, in place.
        Parameters without a gradient (not used by this update) are left out; the update's
        graph is the same on every rank, so every rank leaves out the same ones."""
        import torch.distributed as dist

        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        if not grads:
            return
        flat = _flatten_dense_tensors(grads)  # (sum of numels,)
        dist.all_reduce(flat)
        flat.div_(self.world)
        for grad, avg in zip(grads, _unflatten_dense_tensors(flat, grads)):
            grad.copy_(avg)

    def broadcast(self, model: torch.nn.Module) -> None:
        """Give every rank rank 0's parameters and buffers (at the start and at phase changes)."""
        import torch.distributed as dist

        tensors = [t for t in model.state_dict().values() if t.is_floating_point() or t.dtype == torch.long]
        if tensors:
            flat = _flatten_dense_tensors([t.detach().double() for t in tensors])  # one dtype for one message
            dist.broadcast(flat, 0)
            for t, got in zip(tensors, _unflatten_dense_tensors(flat, tensors)):
                t.detach().copy_(got.to(t.dtype))
