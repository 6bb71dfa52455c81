"""The driver of a remote job, on the cluster (``python -m gp.jobdriver`` in the job's working
directory, started by the Ray Jobs API for ``gp submit --address``): check the plugin and the
data here, then train into the run the submitter created (:func:`gp.orchestrate.train`)."""
from __future__ import annotations

import json
import os
import pathlib
import signal
import sys
import time

from gp import tracking
from gp.errors import GpError

SPEC = "gp-job.json"  # the job, in the job's working directory (written by gp.remote)


def _interrupted(signum, frame):
    raise KeyboardInterrupt  # 'gp stop' and Ctrl-C on a following client send SIGTERM


def run_here(spec: dict) -> str:
    """Train the submitted job into its run (the entry point of a remote job)."""
    from gp import orchestrate
    from gp.config import JobConfig
    from gp.job import check_data
    from gp.plugins import load_registry
    from gp.shipping import check_plugin

    c, run_id = tracking.client(), spec["run_id"]
    job = JobConfig.model_validate(spec["job"])
    _check_account(c, run_id)
    try:
        registry = load_registry()
        check_plugin(spec["plugin"], registry.origin(job.plugin))
        check_data(registry, job)
    except GpError as exc:
        orchestrate.finish(run_id, "FAILED", str(exc))
        raise
    orchestrate.reopen(run_id)
    print(f"gp: run {run_id} ({job.plugin} on {job.data.name}) on the cluster, tracking at "
          f"{tracking.tracking_uri()}", flush=True)
    submitted = float(os.environ.get("GP_SUBMITTED_AT") or time.time())
    return orchestrate.train(run_id, job, None, spec.get("verbose", False), submitted)


def _check_account(c, run_id: str) -> None:
    """The nodes' own MLflow account (jobs carry none) can reach the run, or one line that says
    who fixes it."""
    try:
        c.get_run(run_id)
    except Exception as exc:
        status = tracking.refused(exc)
        if not status:
            raise
        raise GpError(f"MLflow at {tracking.tracking_uri()} refused the cluster's own account (HTTP {status}): "
                      "the cluster's admin gives its nodes an account in /etc/gp/tracking.env (GP_TRACKING_ENV) "
                      "and restarts them; see docs/cluster.md") from None


def main() -> None:
    """``python -m gp.jobdriver`` in the job's working directory: errors as one line."""
    signal.signal(signal.SIGTERM, _interrupted)
    spec = json.loads(pathlib.Path(SPEC).read_text())
    try:
        run_id = run_here(spec)
    except GpError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    except (KeyboardInterrupt, SystemExit):  # ray.init turns SIGTERM into SystemExit
        print(f"gp: stopped; run {spec['run_id']} is KILLED and keeps its last checkpoint", flush=True)
        sys.exit(130)
    print(f"gp: run {run_id} finished", flush=True)


if __name__ == "__main__":
    main()
