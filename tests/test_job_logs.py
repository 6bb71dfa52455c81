"""gp logs: gp's lines, progress and errors by default; --all shows every line.

The samples in tests/fixtures/job_logs are job logs in the formats Ray 2.x and MLflow
print them: a node lost mid-run (Ray's object-store summary, a DNS warning, Ray Train's
worker-group lines, MLflow's "View run" links) and a job that failed on a worker's data.
"""
import pathlib
import random

import pytest

from gp.joblog import Filter, shown, visible

SAMPLES = pathlib.Path(__file__).parent / "fixtures" / "job_logs"


def sample(name: str) -> str:
    """A sample log as Ray returns it: the progress bar's carriage returns kept."""
    return (SAMPLES / name).read_bytes().decode()


def test_a_node_loss_log_shows_gps_lines_and_progress_only():
    text = sample("node_loss.log")
    out, note = visible(text)
    lines = out.split("\n")[:-1]  # (splitlines would also split at the bar's carriage returns)
    assert [l.split("\r")[-1].strip()[:20] for l in lines] == [
        "gp: run 3f2a9c0d5e6b", "gp: 30 steps per epo", "epoch 1/2:  60%|####",
        "gp: worker failure 1", "epoch 2/2: 100%|####", "gp: run 3f2a9c0d5e6b"]
    for noise in ("View run", "View experiment", "Aggregate object store", "Plasma", "NameResolutionError",
                  "TrainController", "raylet", "INFO", "WARNING"):
        assert noise not in out
    total = sum(1 for l in text.split("\n") if l.strip())
    assert note == f"gp: {total - len(lines)} lines of Ray and MLflow hidden; --all shows every line"


def test_a_failed_job_keeps_its_error_lines():
    out, _ = visible(sample("data_error.log"))
    assert out.split("\n")[:-1] == [
        "gp: run 3f2a9c0d5e6b47a8b9c0d1e2f3a4b5c6 (aae on mnist) on the cluster, tracking at http://10.0.0.10:5000",
        "ray.train.ControllerError: Training failed due to controller error:",
        "error: training failed: on node w1 (10.0.0.11): dataset file /data/mnist/train-images-idx3-ubyte[.gz] "
        "not found; install dataset-mnist or set data.root"]


@pytest.mark.parametrize("name", ["node_loss.log", "data_error.log"])
def test_all_shows_the_log_unchanged_and_chunks_change_nothing(name):
    text = sample(name)
    assert visible(text, everything=True) == (text, "")
    rng = random.Random(0)
    cuts = sorted(rng.sample(range(len(text)), 25))
    f = Filter()
    streamed = "".join(f.feed(text[a:b]) for a, b in zip([0, *cuts], [*cuts, len(text)])) + f.close()
    assert (streamed, f.note()) == visible(text)


def test_which_lines_count_as_gps():
    assert shown("gp: stopped; run x is KILLED") and shown("error: no Ray token for ...")
    assert shown("ValueError: bad") and shown("gp.errors.DataError: on node a (1.2.3.4): no data")
    assert not shown("2026-12-03 05:31:02,114\tINFO job_manager.py:568 -- Runtime env is setting up.")
    assert not shown("Error messages are below") and not shown("(raylet) error: something")
    assert shown("\r   \rgp: worker failure 2: rank 0: x; restarting")
