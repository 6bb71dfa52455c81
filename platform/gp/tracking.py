"""MLflow tracking: the store, one run per job, params, tags and the run's artifacts.

Embedded default: an SQLite store under ``$GP_HOME`` (default ``~/.gp``);
``MLFLOW_TRACKING_URI`` points gp at a tracking server instead.
"""
from __future__ import annotations

import os
import pathlib
import re
import subprocess

SECRET = re.compile(r"pass(word)?|secret|token|api[_-]?key|credential|private", re.I)


def home() -> pathlib.Path:
    """gp's own folder for the local store and Ray results."""
    return pathlib.Path(os.environ.get("GP_HOME", pathlib.Path.home() / ".gp")).expanduser().resolve()


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the local SQLite store (absolute path)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    home().mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home() / 'mlflow.db'}"


def client():
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri())


def experiment_id(c, name: str) -> str:
    """The id of experiment ``name``, created (artifacts at :func:`artifact_location`) if missing."""
    return _experiment(c, name, artifact_location(name))


def _experiment(c, name: str, location: str | None) -> str:
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    return c.create_experiment(name, artifact_location=location)


def artifact_location(name: str) -> str | None:
    """A new experiment's artifact folder: under $GP_HOME for the local store; a server's own choice."""
    return None if os.environ.get("MLFLOW_TRACKING_URI") else (home() / "artifacts" / name).as_uri()


def public_params(flat: dict) -> dict[str, str]:
    """Config params safe to log: values of secret-looking keys are dropped."""
    return {k: str(v) for k, v in flat.items() if not SECRET.search(k)}


def git_commit() -> str:
    """The commit of the checkout gp runs from, or ``unknown``."""
    here = pathlib.Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def start_run(c, job, origin) -> str:
    """Create the job's run with its params and tags; return its id."""
    return create_run(c, run_spec(job, origin))


def run_spec(job, origin) -> dict:
    """All a new run is created with, as plain data (no MLflow import): store, experiment,
    artifact folder, tags, params (:func:`create_run` creates it)."""
    import gp

    from gp.config import flatten

    nested = job.model_dump(exclude={"resume"})
    tags = {
        "gp.plugin": job.plugin,
        "gp.plugin.dist": origin.dist,
        "gp.plugin.version": origin.version,
        "gp.version": gp.__version__,
        "gp.git_commit": git_commit(),
        "mlflow.runName": f"{job.plugin}-{job.data.name}" + (f"-{job.recipe}" if job.recipe else ""),
    } | ({"gp.recipe": job.recipe} if job.recipe else {})
    return {"uri": tracking_uri(), "experiment": job.experiment, "location": artifact_location(job.experiment),
            "tags": tags, "params": public_params(flatten(nested)), "config": _json(nested)}


def create_run(c, spec: dict) -> str:
    """Create the run :func:`run_spec` describes in the store of client ``c``; its id."""
    from mlflow.entities import Param, RunTag

    run = c.create_run(_experiment(c, spec["experiment"], spec["location"]), tags=spec["tags"])
    params = [Param(k, v[:6000]) for k, v in spec["params"].items()]
    c.log_batch(run.info.run_id, params=params, tags=[RunTag("gp.config", spec["config"])])
    return run.info.run_id


def without_secrets(d: dict) -> dict:
    """A nested config without secret-looking keys, at any depth."""
    return {k: without_secrets(v) if isinstance(v, dict) else v for k, v in d.items() if not SECRET.search(k)}


def _json(nested: dict) -> str:
    import json

    return json.dumps(without_secrets(nested), default=str)
