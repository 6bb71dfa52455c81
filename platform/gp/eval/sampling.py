"""Sample generation and feature extraction, as Ray tasks or in-process (``--local``).

With Ray the checkpoint and the feature extractor go into the object store once; the n
samples are split into chunks, each a task that rebuilds the model from the checkpoint,
samples with its own seed and extracts features, so a cluster scores large evaluations
in parallel. A local Ray is started when none is running (``RAY_ADDRESS`` or
``--address`` pick a cluster).
"""
from __future__ import annotations

import dataclasses
import logging
import os

import torch

CHUNK = 1000  # samples per task; chunk i samples with seed ``seed * 1000 + i``


@dataclasses.dataclass
class Draw:
    """Samples with their labels (conditional models), features and class probabilities."""

    x: torch.Tensor  # (n, *shape)
    y: torch.Tensor | None  # (n,)
    features: torch.Tensor  # (n, d)
    probs: torch.Tensor | None  # (n, C)


class Executor:
    """Runs a function over argument tuples: Ray tasks, or a plain loop."""

    def __init__(self, use_ray: bool, address: str | None = None, gpu: bool = False):
        self.ray, self.gpu = use_ray, gpu
        if use_ray:
            _init_ray(address)

    def share(self, obj):
        """Put a large argument into the object store once (identity without Ray)."""
        if not self.ray:
            return obj
        import ray

        return ray.put(obj)

    def map(self, fn, calls: list[tuple]) -> list:
        if not self.ray:
            return [fn(*args) for args in calls]
        import ray

        remote = ray.remote(num_cpus=1, num_gpus=1 if self.gpu else 0)(fn)
        return ray.get([remote.remote(*args) for args in calls])

    @staticmethod
    def chunks(n: int, size: int = CHUNK) -> list[tuple[int, int]]:
        """(start, stop) ranges of ``size``: the same with or without Ray, so results are too."""
        return [(i, min(i + size, n)) for i in range(0, n, size)]


def _init_ray(address: str | None) -> None:
    """Connect to Ray (``address``, else ``RAY_ADDRESS``), or start a local one."""
    import ray

    if not ray.is_initialized():
        if not (address or os.environ.get("RAY_ADDRESS")):
            os.environ.setdefault("RAY_worker_niceness", "0")  # a local Ray: tasks are the job
        from gp import signals

        with signals.after_ray_init():  # SIGTERM stops gp eval as Ctrl-C does, not with Ray's stack dump
            ray.init(address=address or os.environ.get("RAY_ADDRESS"), include_dashboard=False,
                     logging_level=logging.ERROR, log_to_driver=False)


def _device(gpu: bool) -> torch.device:
    return torch.device("cuda" if gpu and torch.cuda.is_available() else "cpu")


def sample_task(payload: dict, n: int, seed: int, y, extractor, gpu: bool = False, registry=None) -> Draw:
    """Rebuild the model, draw n samples (for labels y if given) and extract their features."""
    from gp.plugins import load_registry
    from gp.train import checkpoint

    device = _device(gpu)
    model = checkpoint.build_model(payload, registry or load_registry()).to(device)
    torch.manual_seed(seed)
    with torch.no_grad():
        parts = [model.sample(len(ys), ys.to(device) if y is not None else None).cpu() for ys in _pieces(y, n)]
    x = torch.cat(parts).float()
    feats, probs = extractor(x)
    return Draw(x, y, feats, probs)


def _pieces(y, n: int, size: int = 1000) -> list[torch.Tensor]:
    """Labels (or placeholders carrying the size) of the sampling batches."""
    y = y if y is not None else torch.zeros(n, dtype=torch.int64)
    return list(y.split(size))


def featurize_task(x: torch.Tensor, extractor):
    return extractor(x)


def draw(executor: Executor, payload: dict, n: int, seed: int, labels, extractor, gpu: bool = False,
         registry=None) -> Draw:
    """n samples, chunked over the executor, seeds ``seed * 1000 + chunk``.

    ``registry`` (in-process only) rebuilds models that no installed plugin registers."""
    slim = executor.share({k: v for k, v in payload.items() if k not in ("optimizers", "rng")})
    ext = executor.share(extractor)
    calls = [(slim, b - a, seed * 1000 + i, None if labels is None else labels[a:b], ext, gpu,
              None if executor.ray else registry)
             for i, (a, b) in enumerate(executor.chunks(n))]
    parts = executor.map(sample_task, calls)
    return Draw(torch.cat([p.x for p in parts]), None if labels is None else labels,
                torch.cat([p.features for p in parts]), _cat([p.probs for p in parts]))


def featurize(executor: Executor, x: torch.Tensor, extractor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Features and probabilities of real data, chunked over the executor."""
    ext = executor.share(extractor)
    parts = executor.map(featurize_task, [(x[a:b], ext) for a, b in executor.chunks(len(x))])
    return torch.cat([f for f, _ in parts]), _cat([p for _, p in parts])


def _cat(parts: list):
    return None if parts[0] is None else torch.cat(parts)
