"""Remote submission's pieces that need no cluster: addresses, run status on stop, failure lines."""
import pytest

from gp import orchestrate, tracking
from gp.config import JobConfig
from gp.plugins import Origin
from gp.connect import jobs_address


def test_only_http_addresses_go_through_the_jobs_api(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert jobs_address("http://head:8265/") == "http://head:8265"
    assert jobs_address("https://ray.example.com") == "https://ray.example.com"
    assert jobs_address("10.0.0.1:6379") is None and jobs_address(None) is None
    monkeypatch.setenv("RAY_ADDRESS", "http://head:8265")
    assert jobs_address(None) == "http://head:8265"
    assert jobs_address("10.0.0.1:6379") is None  # an explicit --address wins


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_a_stopped_driver_marks_its_run_killed(monkeypatch, stop):
    def interrupted(*args):
        raise stop()

    monkeypatch.setattr(orchestrate, "_fit", interrupted)
    c = tracking.client()
    run_id = tracking.start_run(c, JobConfig(plugin="vae"), Origin("vae", "gp", "0.1.0"))
    with pytest.raises(stop):
        orchestrate.train(run_id, JobConfig(plugin="vae"), None, False, 0.0)
    run = c.get_run(run_id)
    assert run.info.status == "KILLED" and run.data.tags["gp.failure"].startswith("interrupted")


class _Bar:
    def __init__(self):
        self.events, self.lines = [], []

    def write(self, line):
        self.lines.append(line)


def test_worker_failures_say_whether_ray_train_restarts():
    bar = _Bar()
    for n in range(3):
        record = {"event": "worker_failure", "message": f"rank 1: node died ({n})"}
        orchestrate._say_failures(bar, [record], max_failures=2)
        bar.events.append(record)
    assert bar.lines[0] == "gp: worker failure 1: rank 1: node died (0); restarting the workers from the last checkpoint"
    assert bar.lines[1].startswith("gp: worker failure 2:") and bar.lines[1].endswith("from the last checkpoint")
    assert bar.lines[2].endswith("no restarts left (trainer.max_failures), the run fails")


def test_a_data_error_on_a_worker_ends_the_fit_instead_of_being_retried():
    from gp.errors import DataError, GpError

    missing = DataError("on node w1 (10.0.0.11): dataset file /data/mnist/train-images-idx3-ubyte[.gz] not found")
    with pytest.raises(DataError, match=r"^on node w1 \(10\.0\.0\.11\): dataset file"):
        orchestrate._raise_plugin_error([RuntimeError("rank 0 is fine"), missing])  # the callback ends the fit
    orchestrate._raise_plugin_error([GpError("a worker's other error"), OSError("node died")])  # these are retried
    wrapped = RuntimeError("Training failed due to controller error")
    wrapped.__cause__ = missing
    assert orchestrate._worker_error(wrapped) == f"training failed: {missing}"
