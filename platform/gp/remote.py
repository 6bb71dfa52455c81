"""Remote jobs through the Ray Jobs API: submit, follow, list, logs, stop.

``gp submit --address http://HEAD:8265`` validates the job and creates its MLflow run on
the submitting machine (so bad input, a missing Ray token and missing MLflow credentials
fail at once, in one line), then submits a Ray job that trains into that run on the
cluster (:mod:`gp.jobdriver`). The job's working directory holds
the job and every plugin that does not come with gp itself, so a plugin installed only
on the submitting machine still trains (:mod:`gp.shipping`). The plugin's distribution,
version and a hash of its files are tagged on the run and checked again on the cluster.

The job carries no credentials: the user's account creates the run here, and the cluster's
nodes log into it with their own account, which the cluster's admin gives them
(``cluster/start-head.sh`` reads it from a file only root can read; docs/cluster.md). The
run records who submitted it (tags ``mlflow.user`` and ``gp.submitted_by``).
"""
from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import secrets
import shutil
import sys
import tempfile
import time
import urllib.parse
from typing import Optional

import typer

from gp import jobdriver, tracking
from gp.connect import jobs_address, require_token
from gp.joblog import Filter
from gp.shipping import plugin_identity, ship
from gp.errors import GpError, first_line

JOB_ENV = ("MLFLOW_TRACKING_URI", "GP_STORAGE_PATH")  # never a credential: Ray writes env_vars into its logs
STOP_WAIT_S = "20"  # what a stopped job's driver gets to mark its run KILLED
ADDRESS_HELP = "the cluster's Jobs API, http://HEAD:8265 (default: RAY_API_SERVER_ADDRESS or RAY_ADDRESS)"


# --- the Jobs API client ----------------------------------------------------------------

def jobs_client(address: str):
    """A JobSubmissionClient for ``address``; one-line errors for token and network problems."""
    source = require_token(address)
    import logging

    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobSubmissionClient

    logging.getLogger("ray").setLevel(logging.WARNING)  # no INFO lines about packages and sockets
    try:
        return JobSubmissionClient(address)
    except AuthenticationError:
        raise GpError(f"the Ray cluster at {address} refused the token from {source}; "
                      "use the token of that cluster's head node") from None
    except ConnectionError as exc:
        raise GpError(f"cannot reach the Ray Jobs API at {address}: {first_line(exc)}") from None


def check_cluster(trainer, address: str) -> None:
    """Refuse in one line a job whose workers the cluster can never place."""
    from gp.orchestrate import check_resources

    check_resources(trainer, cluster_resources(address))


def cluster_resources(address: str) -> dict[str, float]:
    """The resources of the cluster's live nodes (Ray's state API, behind the same token)."""
    from ray.util.state import list_nodes

    try:
        nodes = list_nodes(address=address, detail=True, limit=10000, raise_on_missing_output=False)
    except Exception as exc:
        raise GpError(f"cannot read the nodes of the Ray cluster at {address}: {first_line(exc)}") from None
    total: dict[str, float] = {}
    for node in (n for n in nodes if n.state == "ALIVE"):
        for key, value in (node.resources_total or {}).items():
            total[key] = total.get(key, 0.0) + value
    return total


# --- MLflow ------------------------------------------------------------------------------

def shared_tracking_uri() -> str:
    """The tracking server every node logs to (a local store cannot be shared)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri.startswith(("http://", "https://", "databricks")):
        raise GpError("remote jobs log to a shared tracking server: set MLFLOW_TRACKING_URI=http://HOST:5000 "
                      "(and MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD); see docs/cluster.md")
    if urllib.parse.urlsplit(uri).password:
        raise GpError("MLFLOW_TRACKING_URI holds a password, which the job would carry to the cluster's logs: "
                      "give it in MLFLOW_TRACKING_PASSWORD instead")
    return uri


def submitter() -> str:
    """Who submits: the MLflow account name, else the local user."""
    import getpass

    return os.environ.get("MLFLOW_TRACKING_USERNAME") or getpass.getuser()


# --- submitting --------------------------------------------------------------------------

def _prepare(overrides: list[str], file: str | None):
    """Validate the job here (the data is checked on the cluster); (job, origin)."""
    from gp.job import prepare

    return prepare(overrides, file, check=False)


def _job_env(submitted: float) -> dict[str, str]:
    env = {k: os.environ[k] for k in JOB_ENV if os.environ.get(k)}
    env.update(GP_SUBMITTED_AT=f"{submitted:.3f}", RAY_JOB_STOP_WAIT_TIME_S=STOP_WAIT_S, PYTHONUNBUFFERED="1",
               MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false")
    return env


def submit_job(overrides: list[str], file: str | None, address: str, follow: bool = False,
               verbose: bool = False) -> str:
    """Submit a job to the cluster at ``address``; return its run id (after it ends if ``follow``)."""
    t0 = time.time()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    client = jobs_client(address)
    shared_tracking_uri()
    with tracking.errors():
        c = tracking.command_client()
        c.search_experiments(max_results=1)  # the account works, before anything else
        job, origin = _prepare(overrides, file)
        check_cluster(job.trainer, address)
        identity = plugin_identity(origin)
        run_id = job.resume or tracking.start_run(c, job, origin, {"mlflow.user": submitter()})
    folder = pathlib.Path(tempfile.mkdtemp(prefix="gp-job-"))
    try:
        job_id = _submit(client, c, job, run_id, identity, folder, t0, verbose)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"gp: job {job_id} submitted to {address}; run {run_id} ({job.plugin} on {job.data.name}) "
          f"at {tracking.tracking_uri()}", flush=True)
    if follow:
        follow_job(client, job_id, run_id, address, everything=verbose)
        print(f"gp: run {run_id} finished; 'gp sample {run_id} --out grid.png' draws samples", flush=True)
    else:
        print(f"gp: 'gp logs {job_id} --follow' streams its logs, 'gp stop {job_id}' stops it", flush=True)
    return run_id


def _submit(client, c, job, run_id, identity, folder, t0, verbose) -> str:
    shipped = ship(identity, folder)
    spec = {"job": job.model_dump(), "run_id": run_id, "verbose": verbose,
            "plugin": {k: identity.get(k) for k in ("dist", "version", "hash", "entry_point")}}
    (folder / jobdriver.SPEC).write_text(json.dumps(spec))
    job_id = f"gp-{re.sub(r'[^a-z0-9]+', '-', job.plugin.lower())}-{run_id[:8]}-{secrets.token_hex(3)}"
    _tag(c, run_id, {"gp.plugin.hash": identity["hash"], "gp.plugin.shipped": str(shipped).lower(),
                     "gp.ray.job_id": job_id, "gp.submitted_by": submitter()})
    try:
        client.submit_job(entrypoint="python -m gp.jobdriver", submission_id=job_id,
                          runtime_env={"working_dir": str(folder), "env_vars": _job_env(t0)},
                          metadata={"gp.run_id": run_id, "gp.plugin": job.plugin})
    except Exception as exc:
        c.set_tag(run_id, "gp.failure", f"submission failed: {first_line(exc)}")
        c.set_terminated(run_id, "FAILED")
        raise GpError(f"the cluster refused the job: {first_line(exc)}") from None
    return job_id


def _tag(c, run_id: str, tags: dict[str, str]) -> None:
    from mlflow.entities import RunTag

    c.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])


# --- following, listing, stopping --------------------------------------------------------

def follow_job(client, job_id: str, run_id: str | None = None, address: str = "", everything: bool = False) -> str:
    """Stream a job's logs (gp's lines; ``everything``: all) until it ends; Ctrl-C stops the
    job (its run becomes KILLED)."""
    import asyncio

    try:
        asyncio.run(_tail(client, job_id, Filter(everything)))
    except KeyboardInterrupt:
        _stop_and_wait(client, job_id, run_id, address)
        raise
    status = str(_wait_terminal(client, job_id, 30).value)
    if status != "SUCCEEDED":
        reason = _job_error(client, job_id)
        if run_id and status == "FAILED":
            _settle(run_id, reason)
        raise GpError(f"job {job_id} {status.lower()}: {reason}" + (f" (run {run_id})" if run_id else ""))
    return status


def _settle(run_id: str, reason: str) -> None:
    """A run whose job failed before its driver could say so (e.g. gp missing on the cluster) fails."""
    c = tracking.client()
    with contextlib.suppress(Exception):
        if c.get_run(run_id).info.status == "RUNNING":
            c.set_tag(run_id, "gp.failure", reason[:500])
            c.set_terminated(run_id, "FAILED")


async def _tail(client, job_id: str, lines: Filter) -> None:
    try:
        async for chunk in client.tail_job_logs(job_id):
            print(lines.feed(chunk), end="", flush=True)
    finally:
        print(lines.close(), end="", flush=True)
        if lines.note():
            print(lines.note(), file=sys.stderr, flush=True)


def _job_error(client, job_id: str) -> str:
    """The job's own error line (gp's 'error:' line if it printed one)."""
    logs = client.get_job_logs(job_id).splitlines()
    mine = [l for l in logs if l.startswith("error:")]
    return mine[-1][len("error: "):] if mine else first_line(client.get_job_info(job_id).message or "no message")


def _stop_and_wait(client, job_id: str, run_id: str | None, address: str, timeout: float = 60) -> None:
    print(f"\ngp: stopping job {job_id} ...", file=sys.stderr, flush=True)
    client.stop_job(job_id)
    _wait_terminal(client, job_id, timeout)
    if run_id:
        print(f"gp: job {job_id} stopped; run {run_id} keeps its last checkpoint: "
              f"gp submit --address {address} resume={run_id}", file=sys.stderr, flush=True)


def _wait_terminal(client, job_id: str, timeout: float):
    """The job's status once it has ended (or after ``timeout`` seconds)."""
    deadline = time.time() + timeout
    status = client.get_job_status(job_id)
    while not status.is_terminal() and time.time() < deadline:
        time.sleep(0.5)
        status = client.get_job_status(job_id)
    return status


def _client_for(address: str | None):
    url = jobs_address(address, ("RAY_API_SERVER_ADDRESS", "RAY_ADDRESS"))
    if not url:
        raise GpError("give the cluster's Jobs API: --address http://HEAD:8265 (or set RAY_ADDRESS)")
    return jobs_client(url), url


def jobs_table(address: str | None) -> str:
    """gp's jobs on the cluster, newest first: id, status, run, plugin, start time."""
    client, _ = _client_for(address)
    rows = [j for j in client.list_jobs() if (j.metadata or {}).get("gp.run_id")]
    rows.sort(key=lambda j: j.start_time or 0, reverse=True)
    lines = [f"{'JOB':<34} {'STATUS':<10} {'RUN':<33} {'PLUGIN':<12} STARTED"]
    for j in rows:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime((j.start_time or 0) / 1000))
        lines.append(f"{j.submission_id:<34} {j.status.value:<10} {j.metadata['gp.run_id']:<33} "
                     f"{j.metadata.get('gp.plugin', ''):<12} {started}")
    return "\n".join(lines) if rows else "no gp jobs on this cluster"


def job_logs(job_id: str, address: str | None, follow: bool, everything: bool = False) -> None:
    """Print a job's logs: gp's lines, progress and errors (``everything``: every line);
    ``follow``: until it ends (Ctrl-C only stops following)."""
    client, _ = _client_for(address)
    _known(client, job_id)
    lines = Filter(everything)
    if not follow:
        print(lines.feed(client.get_job_logs(job_id)) + lines.close(), end="")
        if lines.note():
            print(lines.note(), file=sys.stderr)
        return
    import asyncio

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_tail(client, job_id, lines))


def stop(job_id: str, address: str | None) -> str:
    """Stop a job; its driver marks the run KILLED and keeps the last checkpoint."""
    client, url = _client_for(address)
    info = _known(client, job_id)
    if info.status.is_terminal():
        return f"gp: job {job_id} already {info.status.value.lower()}"
    _stop_and_wait(client, job_id, (info.metadata or {}).get("gp.run_id"), url)
    return f"gp: job {job_id} {client.get_job_status(job_id).value.lower()}"


def _known(client, job_id: str):
    try:
        return client.get_job_info(job_id)
    except RuntimeError:
        raise GpError(f"no job {job_id} on this cluster; 'gp jobs' lists them") from None


# --- commands (added to gp's command line in gp.cli) -------------------------------------

def jobs_command(address: Optional[str] = typer.Option(None, "--address", help=ADDRESS_HELP)):
    """gp's jobs on a Ray cluster: id, status, MLflow run, plugin, start time."""
    typer.echo(jobs_table(address))


def logs_command(
    job: str = typer.Argument(..., help="job id (gp jobs lists them)"),
    address: Optional[str] = typer.Option(None, "--address", help=ADDRESS_HELP),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep streaming until the job ends (Ctrl-C stops following only)"),
    everything: bool = typer.Option(False, "--all", help="every line, Ray's and MLflow's too (default: gp's lines, progress, errors)"),
):
    """A job's logs: gp's lines, progress and errors (--all: everything the job printed)."""
    job_logs(job, address, follow, everything)


def stop_command(
    job: str = typer.Argument(..., help="job id (gp jobs lists them)"),
    address: Optional[str] = typer.Option(None, "--address", help=ADDRESS_HELP),
):
    """Stop a job: its run becomes KILLED and keeps its last checkpoint (resume= continues it)."""
    typer.echo(stop(job, address))
