"""A job made ready to train, shared by both drivers (:mod:`gp.orchestrate` on this machine,
:mod:`gp.jobdriver` on a cluster): parse and validate the config (a resumed run's stored
config with new overrides on top), then check the data and the plugin's code once."""
from __future__ import annotations

import json
from typing import NamedTuple

from gp import config as cfgmod
from gp import tracking
from gp.errors import GpError
from gp.plugins import load_registry


class Checked(NamedTuple):
    """The training split, loaded once, and the job's size in steps per epoch."""

    data: object  # gp.data.spec.Dataset
    steps_per_epoch: int


def prepare(overrides: list[str], file: str | None = None, check: bool = True):
    """Parse and validate a job (and, with ``check``, load its data once here; a remote
    job's data is checked on the cluster); returns (job, plugin origin)."""
    job, registry = validate(overrides, file)
    if check:
        check_data(registry, job)
    return job, registry.origin(job.plugin)


def validate(overrides: list[str], file: str | None):
    """(job, registry): the parsed and validated job, one line on bad input."""
    raw = cfgmod.parse(overrides, file)
    registry = load_registry()
    if raw.get("resume"):
        raw = _resume_config(raw)
    job, model_cfg = cfgmod.validate(raw, registry)
    job.model = model_cfg.model_dump()
    return job, registry


def check_data(registry, job) -> Checked:
    """Load the training split once, so a missing or corrupt dataset fails early, and run the
    plugin's code once on 4 examples of it (:func:`gp.contract.preflight`)."""
    from gp.contract import preflight
    from gp.data.spec import load
    from gp.train.step import draws_per_step, steps_per_epoch

    data = load(registry, job.data, "train")
    spec, t = data.spec, job.trainer
    if steps_per_epoch(len(data), t.batch_size, t.num_workers) == 0:
        raise GpError(f"{job.data.name} has {len(data)} training examples, fewer than trainer.batch_size={t.batch_size} "
                      "needs for one step; lower trainer.batch_size or raise data.limit")
    cls = registry.model(job.plugin)
    if spec.kind not in cls.kinds:
        raise GpError(f"plugin {job.plugin} cannot train on {spec.kind} data ({job.data.name}); it takes {', '.join(cls.kinds)}")
    model = preflight(cls, cls.Config.model_validate(job.model), data, t.epochs)
    per_step = draws_per_step(model.batch_sources)
    return Checked(data, steps_per_epoch(len(data), t.batch_size, t.num_workers, t.steps_per_epoch, per_step))


def say_steps(job, checked: Checked) -> None:
    """Print the job's size: steps per epoch, counted as the training loop counts them, and in all."""
    per, t = checked.steps_per_epoch, job.trainer
    print(f"gp: {per} steps per epoch x {t.epochs} epoch{'s' * (t.epochs != 1)} = {per * t.epochs} steps "
          f"(batch {t.batch_size}, {len(checked.data)} examples)", flush=True)


def _resume_config(raw: dict) -> dict:
    """The stored config of run ``raw['resume']`` with new overrides on top.

    The workers find the run's last checkpoint themselves (see gp.train.loop).
    """
    from omegaconf import OmegaConf

    c, run_id = tracking.client(), raw["resume"]
    try:
        run = c.get_run(run_id)
    except Exception:
        raise GpError(f"run {run_id} not found in {tracking.tracking_uri()}; 'gp runs' lists runs") from None
    stored = json.loads(run.data.tags.get("gp.config", "{}"))
    merged = OmegaConf.to_container(OmegaConf.merge(stored, {k: v for k, v in raw.items() if k != "resume"}))
    merged["resume"] = run_id
    if not c.list_artifacts(run_id, "checkpoint"):
        raise GpError(f"run {run_id} has no checkpoint to resume from; start a new run instead")
    return merged
