"""The driver of ``gp submit``, in a straight line: validate -> start Ray (checking the data
meanwhile) -> create the MLflow run -> fit through Ray Train -> conclude.

A bad config fails before Ray starts, bad data while it starts; each with one line, and no
run is created for them. The driver owns the run's
status: FINISHED, FAILED (with a ``gp.failure`` tag) or KILLED on Ctrl-C or SIGTERM
(:mod:`gp.signals`), after stopping the local Ray it started.
"""
from __future__ import annotations

import logging
import os
import pathlib
import secrets
import tempfile
import threading
import time
from typing import NamedTuple
from concurrent.futures import ThreadPoolExecutor

from gp import signals, tracking
from gp.errors import GpError, first_line
from gp.job import check_data, say_steps, validate

# Shorter Ray Train start-up and quieter logs (measured in docs/performance.md).
RAY_ENV = {
    "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.5",
    "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
    "RAY_TRAIN_ENABLE_PRINT_PATCH": "0",
}
STOP_GRACE_S = 10.0  # what the workers get to commit a checkpoint when the job is stopped (gp.remote gives a job 20 s)
# A local Ray starts its workers at niceness 15; training workers are the job, not background work.
LOCAL_RAY_ENV = {"RAY_worker_niceness": "0"}


def submit(overrides: list[str], file: str | None = None, address: str | None = None, verbose: bool = False) -> str:
    """Run one job end to end; return its MLflow run id.

    The config is validated before anything starts and the data is checked while Ray starts;
    then the run is created. Bad input fails in one line, and no run is created for it or
    for a Ray that cannot start.
    """
    t0 = time.time()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    tracking.wait_for_server()  # a tracking server that is down: said at once, one line after GP_TRACKING_TIMEOUT
    job, registry = validate(overrides, file)
    cluster = address or os.environ.get("RAY_ADDRESS") or "local"
    if cluster != "local":
        from gp.connect import require_token

        require_token(cluster)  # one line now, not a generic connection error after Ray's retries
    try:
        run = _start(job, registry, address, verbose)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM while Ray starts: no run yet
        _stop_ray()
        raise
    return train(run, job, address, verbose, t0, announce=True)


def _start(job, registry, address: str | None, verbose: bool) -> Run:
    """Start Ray while another thread checks the data, then start creating the run (or
    reopen it, for resume=).

    MLflow is imported after ``ray.init``, not beside it: one package imported from two
    threads at once can fail half-initialised, and Ray and MLflow share opentelemetry.
    """
    import ray  # noqa: F401  (whole before the other thread imports the data's modules)

    with ThreadPoolExecutor(1, thread_name_prefix="gp-check-data") as pool:
        checking = pool.submit(check_data, registry, job)
        _init_ray(address, verbose)  # the main thread: only there can gp put its SIGTERM handler back
        say_steps(job, checking.result())
    return _open_run(job, registry)


class Run(NamedTuple):
    """The job's MLflow run id and, for a new run, its Ray Train run's name (tag ``gp.ray_run``)."""

    id: str
    ray_name: str | None = None


def _open_run(job, registry) -> Run:
    """Create the job's run here, in the driver (so credentials never leave it), or reopen it."""
    if job.resume:  # the driver has opened MLflow already, to read the run's config
        reopen(job.resume)
        return Run(job.resume)
    name = _ray_run_name(job)
    spec = tracking.run_spec(job, registry.origin(job.plugin))
    spec["tags"]["gp.ray_run"] = name
    try:
        return Run(tracking.create_run(tracking.client(), spec), name)
    except Exception as exc:
        raise GpError(f"could not create the run in {tracking.tracking_uri()}: {first_line(exc)}; "
                      "check MLFLOW_TRACKING_URI and that the tracking server is up") from None


def _ray_run_name(job) -> str:
    """A new run's Ray Train folder, named like the MLflow run (which carries it as a tag)."""
    return f"{job.plugin}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def train(run: Run | str, job, address: str | None, verbose: bool, t0: float, announce: bool = False) -> str:
    """Train ``job`` into its run (an id or a :class:`Run`), which ends FINISHED, FAILED or
    KILLED; ``announce`` prints the run's id first."""
    run = run if isinstance(run, Run) else Run(run)
    try:
        events = _fit(job, run, address, verbose, t0, announce)
        return _conclude(run.id, events)
    except (KeyboardInterrupt, SystemExit):  # Ctrl-C, or SIGTERM (gp.signals)
        _interrupted(run)
        raise
    except Exception as exc:
        finish(run.id, "FAILED", first_line(exc))
        raise


def _interrupted(run: Run) -> None:
    """End the run KILLED, keeping its checkpoints (first: a SIGKILL may follow a SIGTERM, and
    nothing else would end the run), then stop the processes this driver started."""
    try:
        finish(run.id, "KILLED", f"interrupted; resume with 'gp submit resume={run.id}'")
    finally:
        _stop_ray()


def _stop_ray() -> None:
    """Stop the local Ray that ``ray.init`` started here (raylet, GCS, workers), or leave a cluster."""
    import ray

    ray.shutdown()


def _conclude(run_id: str, events: list[dict]) -> str:
    bad = [e for e in events if e.get("event") == "nonfinite"]
    if bad:
        finish(run_id, "FAILED", bad[0]["message"])
        raise GpError(bad[0]["message"] + f"; lower the learning rate or set trainer.grad_clip (run {run_id})")
    _log_model(run_id)
    finish(run_id, "FINISHED")
    return run_id


def reopen(run_id: str) -> None:
    """A resumed run is RUNNING again; the failure it ended with earlier moves from ``gp.failure``
    to ``gp.failure.earlier`` (so a run that then finishes carries no failure)."""
    c = tracking.client()
    earlier = c.get_run(run_id).data.tags.get("gp.failure")
    if earlier is not None:
        c.set_tag(run_id, "gp.failure.earlier", earlier)
        c.delete_tag(run_id, "gp.failure")
    c.update_run(run_id, status="RUNNING")


def finish(run_id: str, status: str, reason: str | None = None) -> None:
    c = tracking.client()
    if reason:
        c.set_tag(run_id, "gp.failure", reason)
    c.set_terminated(run_id, status)


def _log_model(run_id: str) -> None:
    from gp.mlflow_model import log_sampler

    path = tracking.client().download_artifacts(run_id, "checkpoint/model.pt", tempfile.mkdtemp(prefix="gp-model-"))
    log_sampler(run_id, path)


def _fit(job, run: Run, address, verbose, t0, announce: bool = False) -> list[dict]:
    """Train through Ray Train while showing progress; returns the progress events."""
    import ray

    from gp.progress import Bar, Sink

    _init_ray(address, verbose)
    check_resources(job.trainer, ray.cluster_resources())
    sink = _driver_node_sink(Sink)
    trainer = _trainer(job, run, sink)
    outcome: dict = {}
    thread = threading.Thread(target=_run_fit, args=(trainer, outcome), daemon=True)
    thread.start()
    run_id = run.id
    if announce:
        print(f"gp: run {run_id} ({job.plugin} on {job.data.name}), tracking at {tracking.tracking_uri()}", flush=True)
    bar, first = Bar(), None
    try:
        while thread.is_alive():
            thread.join(0.3)
            records = ray.get(sink.drain.remote())
            first = first or next((r for r in records if "step" in r), None) and time.time() - t0
            _say_failures(bar, records, job.trainer.max_failures)
            bar.update(records)
    except KeyboardInterrupt:  # Ctrl-C, gp stop, SIGTERM: the workers commit a checkpoint where they are
        if first:  # before any step there is nothing to keep
            _stop_workers(sink, thread, bar)
        raise
    bar.update(ray.get(sink.drain.remote()))
    bar.close()
    if first:
        tracking.client().set_tag(run_id, "gp.seconds_to_first_step", f"{first:.1f}")
    failures = sum(e.get("event") == "worker_failure" for e in bar.events)
    if failures:
        tracking.client().set_tag(run_id, "gp.worker_failures", str(failures))
    if "error" in outcome:
        raise GpError(_worker_error(outcome["error"]))
    return bar.events


def _stop_workers(sink, thread, bar, grace: float = STOP_GRACE_S) -> None:
    """Ask the workers to stop at their next read-back, keeping a checkpoint there; wait until
    rank 0 says it is kept, the fit ends, or ``grace`` seconds pass (a second Ctrl-C: at once)."""
    import ray

    bar.write("gp: stopping: the workers keep a checkpoint where they are ...")
    sink.stop.remote()
    deadline = time.monotonic() + grace
    while thread.is_alive() and time.monotonic() < deadline:
        thread.join(0.2)
        bar.update(ray.get(sink.drain.remote(), timeout=5))
        if any(e.get("event") == "stopped" for e in bar.events):
            break


def _driver_node_sink(Sink):
    """The progress sink as an actor on the driver's node (one elsewhere would die with its node)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    return ray.remote(num_cpus=0)(Sink).options(scheduling_strategy=here).remote()


def _say_failures(bar, records: list[dict], max_failures: int) -> None:
    """Print each worker-group failure as it happens, and what Ray Train does next."""
    seen = sum(e.get("event") == "worker_failure" for e in bar.events)
    for r in (r for r in records if r.get("event") == "worker_failure"):
        seen += 1
        then = ("restarting the workers from the last checkpoint" if seen <= max_failures
                else "no restarts left (trainer.max_failures), the run fails")
        bar.write(f"gp: worker failure {seen}: {r['message']}; {then}")


def _failure_reporter(sink):
    """A Ray Train callback (run by its controller) that tells the driver about worker failures."""
    from ray.train import UserCallback

    class FailureReporter(UserCallback):
        def after_exception(self, run_context, worker_exceptions):
            _raise_plugin_error(worker_exceptions.values())
            rank, exc = min(worker_exceptions.items())
            line = _worker_error(exc).removeprefix("training failed: ")
            sink.push.remote({"event": "worker_failure", "message": f"rank {rank}: {line}"})

    return FailureReporter()


def _run_fit(trainer, outcome: dict) -> None:
    try:
        outcome["result"] = trainer.fit()
    except BaseException as exc:  # reported by the driver thread as one line
        outcome["error"] = exc


def _raise_plugin_error(errors) -> None:
    """Raise the first :class:`~gp.contract.PluginError` among a worker group's errors: a
    callback's error ends the fit, where a worker's error would be retried (it would recur)."""
    from gp.contract import PluginError
    from gp.errors import DataError

    for exc in errors:
        final = next((t for t in (PluginError, DataError) if isinstance(exc, t)), None)
        if final:
            raise final(str(exc))


def _plugin_error(exc: BaseException | None):
    """The PluginError that ended a fit (ControllerError -> its cause), or None."""
    from gp.contract import PluginError
    from gp.errors import DataError

    while exc is not None and not isinstance(exc, (PluginError, DataError)):
        exc = getattr(exc, "controller_failure", None) or exc.__cause__
    return exc


def _worker_error(exc: BaseException) -> str:
    """One line from a Ray Train failure: the innermost error's message."""
    if plugin := _plugin_error(exc):
        return "training failed: " + str(plugin)
    lines = [l.strip() for l in str(exc).splitlines() if l.strip()]
    errs = [l for l in lines if ":" in l and l.split(":")[0].split(".")[-1].endswith(("Error", "Exception"))]
    line = errs[-1] if errs else (lines[-1] if lines else type(exc).__name__)
    return "training failed: " + line.split("GpError: ")[-1]


def _init_ray(address: str | None, verbose: bool) -> None:
    import ray

    for key, value in {**RAY_ENV, **LOCAL_RAY_ENV}.items():
        os.environ.setdefault(key, value)
    address = address or os.environ.get("RAY_ADDRESS")
    if ray.is_initialized():
        return
    level = logging.INFO if verbose else logging.ERROR
    with signals.after_ray_init():  # Ray's SIGTERM handler would exit 134 with a stack dump
        ray.init(address=address, logging_level=level, log_to_driver=verbose,
                 runtime_env={"env_vars": {k: os.environ[k] for k in RAY_ENV}})
    _tighten_token()


def check_resources(t, available: dict) -> None:
    """Fail in one line when the workers can never be scheduled (Ray would wait forever)."""
    need = {"CPU": t.num_workers, **({"GPU": t.num_workers} if t.use_gpu else {})}
    for resource, count in need.items():
        have = int(available.get(resource, 0))
        if have < count:
            raise GpError(f"trainer.num_workers={t.num_workers} needs {count} {resource}(s) but the Ray cluster "
                          f"has {have}; lower trainer.num_workers{' or set trainer.use_gpu=false' if resource == 'GPU' else ''} or add nodes")


def _tighten_token() -> None:
    token = pathlib.Path.home() / ".ray" / "auth_token"
    if token.exists() and token.stat().st_uid == os.getuid():
        token.chmod(0o600)


def _trainer(job, run: Run, sink):
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from gp.train.loop import train_worker

    t = job.trainer
    loop_config = {"job": job.model_dump(), "run_id": run.id, "tracking_uri": tracking.tracking_uri(),
                   "sink": sink}
    return TorchTrainer(
        train_worker,
        train_loop_config=loop_config,
        scaling_config=ScalingConfig(num_workers=t.num_workers, use_gpu=t.use_gpu,
                                     resources_per_worker={"CPU": 1}),
        run_config=RunConfig(
            name=run.ray_name or f"{run.id}-{int(time.time())}",
            storage_path=os.environ.get("GP_STORAGE_PATH") or str(tracking.home() / "ray_results"),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
            failure_config=FailureConfig(max_failures=t.max_failures),
            callbacks=[_failure_reporter(sink)],
        ),
    )
