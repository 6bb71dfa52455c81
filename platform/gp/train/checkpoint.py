"""Checkpoints: model, every optimizer, epoch, step and RNG state in one file.

Loaded with ``torch.load(weights_only=True)``: a checkpoint holds only tensors and plain
containers, so a checkpoint from an untrusted run cannot execute code.
"""
from __future__ import annotations

import dataclasses
import os

import torch

from gp.errors import GpError, first_line


def state(model, optimizers: dict, epoch: int, step: int, epoch_step: int = 0, metrics: list | None = None) -> dict:
    """Everything needed to continue training after ``epoch`` whole epochs and ``step`` steps
    (``epoch_step`` of them into the next epoch, for a checkpoint taken within an epoch), and
    the metric points it commits: ``[(step, wall time, {name: value})]`` (see gp.train.logger)."""
    return {
        "plugin": model.name,
        "model_config": model.config.model_dump(),
        "data_spec": dataclasses.asdict(model.data),
        "model": model.state_dict(),
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "epoch": epoch,
        "step": step,
        "epoch_step": epoch_step,
        "phase": model.phase,  # the phase its optimizers belong to (a resume may schedule phases anew)
        "metrics": [[s, at, dict(values)] for s, at, values in metrics or []],
        "rng": torch.get_rng_state(),
    }


def save(directory: str, payload: dict) -> str:
    """Write ``payload`` to ``directory/model.pt`` (atomically) and return the path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "model.pt")
    torch.save(payload, path + ".tmp")
    os.replace(path + ".tmp", path)
    return path


def load(path: str) -> dict:
    """Read a checkpoint safely (no arbitrary unpickling)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise GpError(f"checkpoint {path} not found") from None
    except Exception as exc:
        raise GpError(f"refusing to load checkpoint {path}: {first_line(exc, 200)}") from None


def restore(payload: dict, model, optimizers: dict) -> tuple[int, int, int]:
    """Load model and optimizer state; return (whole epochs done, steps done, steps done
    into the next epoch)."""
    model.load_state_dict(payload["model"])
    for name, opt in optimizers.items():
        opt.load_state_dict(payload["optimizers"][name])
    torch.set_rng_state(payload["rng"])
    return payload["epoch"], payload["step"], payload.get("epoch_step", 0)


def build_model(payload: dict, registry):
    """Rebuild the model a checkpoint came from (through the plugin registry)."""
    from gp.model import DataSpec

    cls = registry.model(payload["plugin"])
    spec = payload["data_spec"]
    data = DataSpec(tuple(spec["shape"]), spec["num_classes"], spec["kind"], spec.get("labelled"))
    model = cls(cls.Config.model_validate(payload["model_config"]), data)
    model.load_state_dict(payload["model"])
    return model.eval()


def digest(model) -> str:
    """SHA-256 of every parameter and buffer: equal digests mean identical weights."""
    import hashlib

    h = hashlib.sha256()
    for tensor in model.state_dict().values():
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
