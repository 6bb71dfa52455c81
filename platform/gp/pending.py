"""The job's MLflow run, created by a Ray task while Ray Train starts the workers.

Opening MLflow in the driver (its import, the store, ``create_run``) took about 3 s of
``gp submit``'s start-up, with the CPU half idle during the 15 s that Ray Train then takes to
start its workers (docs/performance.md). So the driver hands the run's creation to a Ray task
on its own node (a local store lies there) and the workers an ObjectRef to its result; the
driver waits for the id only once the trainer is running.

Where credentials are set (``MLFLOW_TRACKING_USERNAME``, ``_PASSWORD``, ``_TOKEN``) the driver
creates the run itself, so that they stay in its process.
"""
from __future__ import annotations

import os

from gp import tracking
from gp.errors import GpError

CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


class Run:
    """A run id, known now or once the task that creates the run has ended; ``ray_name``:
    the Ray Train run's name, if chosen before the id was known (tag ``gp.ray_run``)."""

    def __init__(self, run_id: str | None = None, ref=None, ray_name: str | None = None):
        self._id, self.ref, self.ray_name = run_id, ref, ray_name

    @property
    def for_workers(self):
        """What the workers' config carries: the id, or the task's ObjectRef (see :func:`resolve`)."""
        return self._id if self._id is not None else self.ref

    def id(self, timeout: float | None = None) -> str:
        """The run id, after the task if needed; one line if it failed (then no run exists)."""
        if self._id is None:
            self._id = _result(self.ref, timeout)
        return self._id

    def created(self, timeout: float = 30.0) -> str | None:
        """The id if the run exists (waiting up to ``timeout`` s for the task), else None."""
        try:
            return self.id(timeout)
        except Exception:
            return None


def open_run(job, origin, node_id: str, ray_name: str) -> Run:
    """Start creating ``job``'s run in a task on node ``node_id`` (Ray Train's run: ``ray_name``)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    spec = tracking.run_spec(job, origin)
    spec["tags"]["gp.ray_run"] = ray_name
    if any(os.environ.get(k) for k in CREDENTIALS):
        return Run(tracking.create_run(tracking.client(), spec), ray_name=ray_name)
    here = NodeAffinitySchedulingStrategy(node_id, soft=False)
    task = ray.remote(num_cpus=0, max_retries=0)(_create).options(scheduling_strategy=here)
    return Run(ref=task.remote(spec), ray_name=ray_name)


def _create(spec: dict) -> str:
    """The task: create the run in the store ``spec['uri']``."""
    from mlflow.tracking import MlflowClient

    return tracking.create_run(MlflowClient(spec["uri"]), spec)


def resolve(run) -> str | None:
    """A worker's run id from its config: the id itself, or the creating task's result."""
    if run is None or isinstance(run, str):
        return run
    import ray

    return ray.get(run)


def _result(ref, timeout: float | None) -> str:
    import ray

    try:
        return ray.get(ref, timeout=timeout)
    except ray.exceptions.RayTaskError as exc:
        cause = str(exc.cause).strip().splitlines() if exc.cause else []
        line = cause[0] if cause else type(exc).__name__
        raise GpError(f"could not create the run in {tracking.tracking_uri()}: {line}; "
                      "check MLFLOW_TRACKING_URI and that the tracking server is up") from None
