"""The two sides of the overhead comparisons, in one process, on the same data.

:class:`GpRunner` is gp's own per-step path: ``gp.train.step.batches``, the stepper the
loop builds (``gp.train.graph.build_stepper``: eager or one CUDA graph per step) and the
loop's loss buffer and read-back every ``log_every`` steps (``gp.train.loop.Loop``), with
the per-epoch pictures and checkpoint left out. :class:`PlainRunner` is what a user would
write by hand for the same model: the same batches, the model's own optimizers (fused Adam
on a GPU), zero_grad/forward/backward/step per update, losses read back once at the end.
:class:`PlainGraphRunner` captures that hand-written step in a CUDA graph.
"""
from __future__ import annotations

from unittest import mock

import torch

from gp.config import JobConfig
from gp.data.spec import Dataset, load
from gp.model import DataSpec
from gp.progress import Reporter
from gp.train import checkpoint, layout
from gp.train.graph import build_stepper
from gp.train.logger import NullLogger
from gp.train.loop import Loop
from gp.train.session import LocalSession


def synthetic(shape=(1, 28, 28), n: int = 60_000, classes: int = 10, device="cpu", seed: int = 0) -> Dataset:
    """Random images in [0, 1] with labels, like Fashion-MNIST in size (throughput only)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, *shape, generator=g)
    y = torch.randint(classes, (n,), generator=g)
    return Dataset(x.to(device), y.to(device), DataSpec(tuple(shape), classes, "image"))


def dataset(registry, name: str, limit: int | None, device) -> Dataset:
    """A registered dataset (training split), moved to ``device``."""
    data = load(registry, JobConfig(plugin="vae", data={"name": name, "limit": limit}).data, "train")
    data.x, data.y = data.x.to(device), data.y.to(device)
    return data


def job(plugin: str, batch: int, model: dict | None = None, **trainer) -> JobConfig:
    return JobConfig.model_validate({"plugin": plugin, "model": model or {},
                                     "trainer": {"batch_size": batch, "epochs": 1, **trainer}})


def build_model(registry, j: JobConfig, spec: DataSpec, device, seed: int = 0):
    """The job's model with seeded weights, in its first phase (kept: no phase changes)."""
    cls = registry.model(j.plugin)
    torch.manual_seed(seed)
    model = cls(cls.Config.model_validate(j.model), spec).to(device)
    first = model.phases(1)[0]
    model.begin_phase(first)
    model.phases = lambda epochs: [first] * epochs
    return model


class _BenchLoop(Loop):
    def _end_epoch(self, epoch, step, data):  # no pictures or checkpoints: steady state only
        pass


class GpRunner:
    """gp's per-step path on ``data``; ``run(steps)`` trains and returns the images seen."""

    def __init__(self, registry, j: JobConfig, data: Dataset, device, seed: int = 0, logger=None):
        self.j, self.data, self.device = j, data, torch.device(device)
        session = LocalSession(device=str(device))
        self.losses: list[dict] = []
        self.logger = logger or _Keep(self.losses)
        self.model = build_model(registry, j, data.spec, device, seed)
        layout.apply(self.model, j.trainer.channels_last)  # as the loop does
        self.stepper = build_stepper(self.model, self.model, self.model.configure_optimizers(), j.trainer, self.device)
        self.loop = _BenchLoop(j, session, self.model, self.stepper, self.logger, Reporter(None))

    def run(self, steps: int) -> int:
        """Exactly ``steps`` steps, as epochs of at most one pass over the data."""
        t, per_epoch = self.j.trainer, len(self.data.x) // self.j.trainer.batch_size
        done = 0
        with mock.patch.object(checkpoint, "digest", lambda model: ""):
            while done < steps:
                t.steps_per_epoch = min(steps - done, per_epoch)
                done += self.loop.epochs(self.data, 0, 0)["step"]
        sync(self.device)
        return done * t.batch_size


class _Keep(NullLogger):
    """Keeps the logged losses (they are read back by the loop anyway)."""

    def __init__(self, into: list):
        self.into = into

    def log_steps(self, rows):
        self.into.extend(losses for _, _, losses in rows)


class PlainRunner:
    """A hand-written loop for the same model, optimizers, batches and device."""

    def __init__(self, registry, j: JobConfig, data: Dataset, device, seed: int = 0):
        self.j, self.data, self.device = j, data, torch.device(device)
        self.model = build_model(registry, j, data.spec, device, seed)
        self.opts = self.model.configure_optimizers()
        if self.device.type == "cuda":  # what a careful user writes: Adam(..., fused=True)
            for opt in self.opts.values():
                for group in opt.param_groups:
                    if isinstance(opt, (torch.optim.Adam, torch.optim.AdamW)):
                        group["fused"], group["foreach"] = True, None
        self.epoch, self.losses = 0, []

    def batches(self, steps: int):
        b, n = self.j.trainer.batch_size, len(self.data.x)
        per_epoch = n // b
        done = 0
        while done < steps:
            g = torch.Generator().manual_seed(self.epoch)
            perm = torch.randperm(n, generator=g).to(self.device)
            self.epoch += 1
            for i in range(min(per_epoch, steps - done)):
                idx = perm[i * b : (i + 1) * b]
                yield {"x": self.data.x[idx], "y": self.data.y[idx]}
            done += min(per_epoch, steps - done)

    def step(self, batch: dict) -> torch.Tensor:
        for update in self.model.updates:
            opt = self.opts[update]
            opt.zero_grad(set_to_none=True)
            loss = self.model(batch, update)["loss"]
            loss.backward()
            opt.step()
        return loss.detach()

    def run(self, steps: int) -> int:
        losses = [self.step(batch) for batch in self.batches(steps)]
        self.losses += torch.stack(losses).tolist()  # the one read-back
        return steps * self.j.trainer.batch_size


class PlainGraphRunner(PlainRunner):
    """The hand-written step captured in one CUDA graph (capturable fused Adam)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        for opt in self.opts.values():
            for group in opt.param_groups:
                group["capturable"] = True
        self.graph = None

    def capture(self, batch: dict) -> None:
        self.static = {k: v.clone() for k, v in batch.items()}
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                super().step(self.static)
        torch.cuda.current_stream().wait_stream(side)
        for p in self.model.parameters():
            p.grad = None
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.out = super().step(self.static)

    def step(self, batch: dict) -> torch.Tensor:
        if self.graph is None:
            self.capture(batch)
        for k, v in batch.items():
            self.static[k].copy_(v, non_blocking=True)
        self.graph.replay()
        return self.out.clone()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
