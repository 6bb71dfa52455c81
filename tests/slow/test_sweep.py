"""`gp sweep` end to end: a real Ray Tune sweep of tiny trials on digits, and a resumed one."""
import os
import signal
import subprocess
import time

import pytest

from gp import tracking
from tests.helpers import GP, gp

pytestmark = pytest.mark.slow

TINY = ["plugin=vae", "data=digits", "trainer.steps_per_epoch=3", "trainer.log_every=1"]
LRS = {"0.01": 1e-2, "0.003": 3e-3, "1e-05": 1e-5, "1e-06": 1e-6}


def children(c, parent):
    exp = c.get_run(parent).info.experiment_id
    return c.search_runs([exp], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'")


def sweep_id(text: str) -> str:
    return text.split("gp: sweep ", 1)[1].split(":")[0].split()[0]


@pytest.fixture(scope="module")
def asha(tmp_path_factory):
    """4 trials, 4 epochs of 3 steps, two at a time; two learning rates far too small to keep up."""
    home = tmp_path_factory.mktemp("sweep") / "gp-home"
    proc = gp("sweep", *TINY, "model.lr=grid(1e-2,3e-3,1e-5,1e-6)", "trainer.epochs=4", "--trials", "4",
              "--metric", "model/loss", "--mode", "min", "--scheduler", "asha", "--max-concurrent", "2",
              env={"GP_HOME": str(home)}, timeout=500)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return home, sweep_id(proc.stdout), proc


@pytest.fixture
def c(asha, monkeypatch):
    monkeypatch.setenv("GP_HOME", str(asha[0]))
    return tracking.client()


def test_every_trial_is_a_child_run_with_its_params(asha, c):
    runs = children(c, asha[1])
    assert sorted(r.data.params["model.lr"] for r in runs) == sorted(LRS)
    for r in runs:
        assert (r.data.params["plugin"], r.data.params["data.name"], r.data.params["trainer.epochs"]) == ("vae", "digits", "4")
        assert r.data.tags["gp.sweep"] == asha[1] and r.data.tags["gp.trial"]
        assert [a.path for a in c.list_artifacts(r.info.run_id, "checkpoint")] == ["checkpoint/model.pt"]
        assert c.get_metric_history(r.info.run_id, "model/loss")  # every step, as gp submit logs them


def test_asha_stopped_a_trial_early_and_marked_it(asha, c):
    runs = children(c, asha[1])
    stopped = [r for r in runs if r.data.tags.get("gp.stopped") == "scheduler"]
    assert stopped, [(r.info.status, r.data.tags.get("gp.stopped")) for r in runs]
    for r in stopped:
        assert r.info.status == "KILLED" and "gp.failure" not in r.data.tags
        assert int(r.data.tags["gp.stopped_at_epoch"]) < 4
        assert len(c.get_metric_history(r.info.run_id, "sweep/objective")) < 4
    assert all(r.info.status in ("FINISHED", "KILLED") for r in runs)
    assert any(r.info.status == "FINISHED" for r in runs)


def test_the_parent_names_the_best_trial(asha, c):
    parent = c.get_run(asha[1])
    runs = children(c, asha[1])
    best = min(runs, key=lambda r: r.data.metrics["sweep/objective"])
    t = parent.data.tags
    assert parent.info.status == "FINISHED"
    assert (t["gp.sweep.best_trial"], t["gp.sweep.best_run"]) == (best.data.tags["gp.trial"], best.info.run_id)
    assert t["gp.sweep.best_config"] == '{"model.lr": "%s"}' % best.data.params["model.lr"]
    assert parent.data.metrics["best/model/loss"] == pytest.approx(best.data.metrics["sweep/objective"])
    assert parent.data.params["space.model.lr"] == "grid(0.01,0.003,1e-05,1e-06)"
    assert {a.path for a in c.list_artifacts(asha[1], "sweep")} == {"sweep/objective.png", "sweep/space.json",
                                                                   "sweep/best_config.json"}


def test_gp_runs_sweep_ranks_the_trials(asha):
    proc = gp("runs", "--sweep", asha[1], env={"GP_HOME": str(asha[0])})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"sweep {asha[1]}: model/loss (min), best trial ")
    values = [float(l.split()[-2]) for l in lines[2:]]
    assert len(values) == 4 and values == sorted(values)
    assert "stopped by scheduler" in proc.stdout


def test_an_interrupted_sweep_resumes_without_repeating_finished_trials(gp_home):
    home = gp_home
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    args = [GP, "sweep", *TINY, "model.lr=grid(1e-2,3e-3,1e-3)", "trainer.epochs=2", "--trials", "3",
            "--metric", "model/loss", "--scheduler", "fifo", "--max-concurrent", "1"]
    log = home.parent / "sweep.log"
    proc = subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True, env=env)
    try:
        while "gp: sweep " not in log.read_text() and proc.poll() is None:
            time.sleep(1)
        parent = sweep_id(log.read_text())
        c = tracking.client()
        deadline = time.time() + 300
        while not [r for r in children(c, parent) if r.info.status == "FINISHED"] and time.time() < deadline:
            time.sleep(2)
        done = {r.data.tags["gp.trial"]: r for r in children(c, parent) if r.info.status == "FINISHED"}
        assert done, "no trial finished in time"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=180)
        assert proc.returncode == 130, log.read_text()
        assert c.get_run(parent).info.status == "KILLED"
        resumed = gp("sweep", f"resume={parent}", env={"GP_HOME": str(home)}, timeout=400)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        runs = {r.data.tags["gp.trial"]: r for r in children(c, parent)}
        assert len(runs) == 3 and all(r.info.status == "FINISHED" for r in runs.values())
        for trial, before in done.items():  # untouched: same end, each epoch's objective logged once
            assert runs[trial].info.end_time == before.info.end_time
            assert [m.step for m in c.get_metric_history(before.info.run_id, "sweep/objective")] == [1, 2]
        assert c.get_run(parent).info.status == "FINISHED"
    finally:
        if proc.poll() is None:
            proc.kill()
