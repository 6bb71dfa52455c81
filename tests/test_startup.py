"""Start-up: the driver checks the data while Ray starts, and a new run's first workers
skip the checkpoint lookup (docs/performance.md, start-up)."""
import threading

import pytest

from gp import orchestrate, tracking
from gp.errors import GpError
from gp.progress import Sink
from gp.train.loop import _may_have_checkpoint
from gp.train.session import LocalSession

JOB = ["plugin=vae", "data=digits", "trainer.epochs=1", "trainer.steps_per_epoch=1", "model.hidden=8"]


def _runs() -> list:
    c = tracking.client()
    exp = c.get_experiment_by_name("gp")
    return c.search_runs([exp.experiment_id]) if exp else []


def test_a_ray_that_cannot_start_opens_no_run(monkeypatch):
    def no_cluster(address, verbose):
        raise ConnectionError("could not reach the Ray cluster at 127.0.0.1:1")

    monkeypatch.setattr(orchestrate, "_init_ray", no_cluster)
    with pytest.raises(ConnectionError):
        orchestrate.submit(JOB)
    assert _runs() == []


def test_bad_data_found_while_ray_starts_opens_no_run(monkeypatch):
    started = []
    monkeypatch.setattr(orchestrate, "_init_ray", lambda address, verbose: started.append(address))
    with pytest.raises(GpError, match="fewer than trainer.batch_size=128"):
        orchestrate.submit(JOB + ["data.limit=100"])
    assert started == [None] and _runs() == []


def test_the_data_is_checked_in_another_thread_while_ray_starts_in_this_one(monkeypatch):
    threads, check = {}, orchestrate.check_data

    def checking(registry, job):
        threads["check"] = threading.current_thread()
        return check(registry, job)

    monkeypatch.setattr(orchestrate, "check_data", checking)
    monkeypatch.setattr(orchestrate, "_init_ray", lambda a, v: threads.setdefault("ray", threading.current_thread()))
    monkeypatch.setattr(orchestrate, "_open_run", lambda job, registry: orchestrate.Run("opened"))
    monkeypatch.setattr(orchestrate, "train", lambda run, *rest, **kw: run.id)
    assert orchestrate.submit(JOB) == "opened"
    assert threads["ray"] is threading.main_thread() and threads["check"] is not threading.main_thread()


def test_only_a_new_runs_first_workers_skip_the_checkpoint_lookup():
    sink = Sink()
    new = {"job": {"resume": None}, "sink": sink}
    here = LocalSession()
    assert _may_have_checkpoint(new, here) is False  # the first worker of a new run
    assert _may_have_checkpoint(new, here) is True  # any later one: a restart, or a rank after rank 0
    assert _may_have_checkpoint({"job": {"resume": "abc"}, "sink": Sink()}, here) is True
    assert _may_have_checkpoint({"job": {}}, here) is True  # no sink: cannot tell, so look


def test_the_logger_opens_mlflow_in_a_thread_and_stamps_each_step_with_its_own_time():
    from gp.train.logger import RunLogger

    c = tracking.client()
    run_id = c.create_run(tracking.experiment_id(c, "gp")).info.run_id
    logger = RunLogger(run_id, tracking.tracking_uri())
    assert logger._opening.result(timeout=60)[1].get_run(run_id).info.run_id == run_id
    logger.log_steps([(1, 1000.25, {"model/loss": 2.0}), (2, 1001.5, {"model/loss": 1.5})])
    logger.close()
    history = c.get_metric_history(run_id, "model/loss")
    assert [(m.step, m.value, m.timestamp) for m in history] == [(1, 2.0, 1000250), (2, 1.5, 1001500)]


def test_the_driver_creates_the_run_with_its_tags_before_training(registry):
    from gp.config import JobConfig

    run = orchestrate._open_run(JobConfig(plugin="vae"), registry)
    tags = tracking.client().get_run(run.id).data.tags
    assert (tags["gp.ray_run"], tags["gp.plugin"]) == (run.ray_name, "vae") and "gp.config" in tags
    assert run.ray_name.startswith("vae-")


def test_a_tracking_server_that_is_down_is_one_line_and_no_run(monkeypatch, registry):
    from gp.config import JobConfig

    monkeypatch.setattr(tracking, "create_run", lambda c, spec: (_ for _ in ()).throw(ConnectionError("refused\nmore")))
    with pytest.raises(GpError, match=r"could not create the run in .*: refused; check MLFLOW_TRACKING_URI"):
        orchestrate._open_run(JobConfig(plugin="vae"), registry)
