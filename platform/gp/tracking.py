"""MLflow tracking: the store, one run per job, params, tags and the run's artifacts.

Embedded default: an SQLite store under ``$GP_HOME`` (default ``~/.gp``);
``MLFLOW_TRACKING_URI`` points gp at a tracking server instead. Commands that only talk to
the server (:func:`command_client`) wait for it a bounded time (``GP_TRACKING_TIMEOUT``
seconds, default 30), saying so, and every MLflow failure becomes one line (:func:`errors`).
"""
from __future__ import annotations

import contextlib
import os
import pathlib
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

from gp.errors import GpError, first_line

SECRET = re.compile(r"pass(word)?|secret|token|api[_-]?key|credential|private", re.I)
REFUSED = re.compile(r"(?:error code|HTTP|^) ?(40[13])\b|\b(40[13]) Client Error")
TIMEOUT_S, SAY_WAITING_S = 30.0, 2.0


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


def timeout_s() -> float:
    """How long a command waits for the tracking server: ``GP_TRACKING_TIMEOUT`` [30] seconds."""
    value = os.environ.get("GP_TRACKING_TIMEOUT", "")
    try:
        return float(value) if value else TIMEOUT_S
    except ValueError:
        raise GpError(f"GP_TRACKING_TIMEOUT={value!r} is not a number of seconds") from None


def command_client():
    """A client for a command that only reads or writes runs (never for training: its retries
    are MLflow's, minutes long): the server is up, and every request is bounded."""
    limit = timeout_s()
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(1, int(limit))))
    wait_for_server(limit)
    return client()


def wait_for_server(limit: float | None = None) -> None:
    """Return once an http(s) tracking server answers; say within seconds that gp waits for
    it, and fail in one line after ``limit`` seconds (:func:`timeout_s`)."""
    uri = tracking_uri()
    if not uri.startswith(("http://", "https://")):
        return
    limit = timeout_s() if limit is None else limit
    start, said, why = time.monotonic(), False, ""
    while True:
        why = _health(uri, min(5.0, max(0.5, limit - (time.monotonic() - start))))
        waited = time.monotonic() - start
        if why is None:
            return
        if waited >= limit:
            raise GpError(f"the tracking server at {uri} did not answer within {limit:.0f} s ({why}); "
                          "is it up? (GP_TRACKING_TIMEOUT sets how long gp waits)")
        if not said and waited + 1 >= SAY_WAITING_S:
            print(f"gp: waiting for the tracking server at {uri} ({why}; up to {limit:.0f} s)", file=sys.stderr, flush=True)
            said = True
        time.sleep(1.0)


def _health(uri: str, timeout: float) -> str | None:
    """None if the server answers at all (any HTTP status), else why not, in a few words."""
    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout).close()
    except urllib.error.HTTPError:
        return None  # it answered
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return first_line(reason, 120)
    return None


def refused(exc: BaseException) -> str | None:
    """The HTTP status (401/403) if ``exc`` says the server refused the credentials, else None."""
    found = REFUSED.search(str(exc))
    if found:
        return found.group(1) or found.group(2)
    code = getattr(exc, "error_code", None)
    return code if code in ("UNAUTHENTICATED", "PERMISSION_DENIED") else None


def refused_line(status: str) -> str:
    return (f"MLflow at {tracking_uri()} refused the request (HTTP {status}): set MLFLOW_TRACKING_USERNAME "
            "and MLFLOW_TRACKING_PASSWORD to an account with access")


@contextlib.contextmanager
def errors(otherwise: str | None = None):
    """MLflow failures as one line: refused credentials say so; any other failure is
    ``otherwise`` if given, else MLflow's own first line."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except GpError:
        raise
    except Exception as exc:
        status = refused(exc)
        if status:
            raise GpError(refused_line(status)) from None
        if otherwise:
            raise GpError(otherwise) from None
        if isinstance(exc, MlflowException):
            raise GpError(f"MLflow at {tracking_uri()}: {first_line(exc)}") from None
        raise


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


def start_run(c, job, origin, tags: dict[str, str] | None = None) -> str:
    """Create the job's run with its params and tags (and ``tags``); return its id."""
    spec = run_spec(job, origin)
    spec["tags"].update(tags or {})
    return create_run(c, spec)


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
