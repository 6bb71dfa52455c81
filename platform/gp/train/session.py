"""Where the loop runs: inside Ray Train (any world size) or in-process (world size one).

The loop talks only to a session, so fast tests can call it directly while every real
job goes through Ray Train.
"""
from __future__ import annotations

import os
import tempfile

import torch


class LocalSession:
    """World size one, no Ray: for tests and debugging."""

    rank, world, grad_sync = 0, 1, None
    node = None  # this machine is the driver's: errors need not name it
    keeps_checkpoint_dirs = True  # reported checkpoints stay where they were written (tests read them)

    def __init__(self, resume_from: str | None = None, device: str = "cpu"):
        self.device, self._resume = torch.device(device), resume_from
        self.checkpoints: list[str] = []

    def prepare(self, model, mode: str = "updates"):
        return model.to(self.device)

    def checkpoint_path(self) -> str | None:
        return self._resume

    def report(self, metrics: dict, ckpt_dir: str | None, name: str) -> None:
        if ckpt_dir:
            self.checkpoints.append(os.path.join(ckpt_dir, "model.pt"))

    def all_max(self, flag: torch.Tensor) -> torch.Tensor:
        return flag

    def scratch(self) -> str:
        return tempfile.mkdtemp(prefix="gp-ckpt-")

    def ask(self, method):
        """Call a method of the driver's progress sink (here: an object in this process)."""
        return method()


class RaySession:
    """Inside a Ray Train worker: gradient averaging (gp's or DDP), sharding by rank, Ray checkpoints."""

    def __init__(self):
        import ray.train
        import ray.train.torch

        ctx = ray.train.get_context()
        self.rank, self.world = ctx.get_world_rank(), ctx.get_world_size()

        self.device = ray.train.torch.get_device()
        self.grad_sync = None
        self.keeps_checkpoint_dirs = False  # Ray Train copies a reported checkpoint into its storage

    def prepare(self, model, mode: str = "updates"):
        """The module the stepper calls: the model itself, or (``mode="ddp"``) a DDP wrapper.
        With ``updates`` (several workers) ``grad_sync`` averages each update's gradients."""
        import ray.train.torch

        if self.world == 1:
            return model.to(self.device)
        if mode == "updates":
            from gp.train.sync import GradSync

            self.grad_sync = GradSync(self.world)  # the stepper broadcasts rank 0's weights first
            return model.to(self.device)
        from gp.model import leaves_parameters_unused

        kwargs = {"find_unused_parameters": leaves_parameters_unused(model)}
        return ray.train.torch.prepare_model(model, parallel_strategy_kwargs=kwargs)

    def checkpoint_path(self) -> str | None:
        import ray.train

        ckpt = ray.train.get_checkpoint()
        if ckpt is None:
            return None
        return os.path.join(ckpt.to_directory(), "model.pt")

    def report(self, metrics: dict, ckpt_dir: str | None, name: str) -> None:
        import ray.train

        ckpt = ray.train.Checkpoint.from_directory(ckpt_dir) if ckpt_dir else None
        ray.train.report(metrics, checkpoint=ckpt, checkpoint_dir_name=name)

    def ask(self, method):
        """Call a method of the driver's progress sink (an actor) and wait for its answer."""
        import ray

        return ray.get(method.remote())

    def all_max(self, flag: torch.Tensor) -> torch.Tensor:
        if self.world > 1:
            import torch.distributed as dist

            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return flag

    def scratch(self) -> str:
        return tempfile.mkdtemp(prefix="gp-ckpt-")

    @property
    def node(self) -> str:
        """This worker's machine, as errors name it: "hostname (IP)"."""
        import socket

        import ray.util

        return f"{socket.gethostname()} ({ray.util.get_node_ip_address()})"
