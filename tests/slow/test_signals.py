"""SIGTERM (what a scheduler or ``timeout`` sends) stops gp as Ctrl-C does: the run ends
KILLED with its checkpoint, every process gp started stops, and gp exits 143."""
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from gp import tracking
from tests.helpers import GP, INHERITED_NOT, ROOT

pytestmark = pytest.mark.slow


def psutil():
    import ray  # noqa: F401  (puts the psutil that Ray bundles on sys.path)
    import psutil

    return psutil


def start(tmp_path, *args) -> subprocess.Popen:
    """``gp ARGS`` in the background, its output into files (a full pipe would block it)."""
    env = {k: v for k, v in os.environ.items() if k not in INHERITED_NOT}
    out, err = open(tmp_path / "stdout", "w"), open(tmp_path / "stderr", "w")
    return subprocess.Popen([GP, *args], stdout=out, stderr=err, env=env, cwd=ROOT)


def stop(proc: subprocess.Popen, sig: int, tmp_path) -> str:
    """Send ``sig`` and wait (bounded) for gp to exit; its stderr."""
    proc.send_signal(sig)
    proc.wait(timeout=120)
    return (tmp_path / "stderr").read_text()


def left_after(procs: list, seconds: float) -> list[int]:
    """The PIDs of those of ``procs`` still running after up to ``seconds``."""
    _, alive = psutil().wait_procs(procs, timeout=seconds)
    return sorted(p.pid for p in alive)


def kill_leftovers(proc: subprocess.Popen, procs: list) -> None:
    """The test's own clean-up, by PID: what is still running of what gp started, and gp."""
    for p in procs:
        try:
            p.kill()
        except psutil().Error:
            pass
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


def first_checkpoint(proc: subprocess.Popen, timeout: float) -> str:
    """The id of gp's run once a checkpoint is in it (bounded by ``timeout`` s)."""
    c, deadline = tracking.client(), time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        time.sleep(1)
        exp = c.get_experiment_by_name("gp")
        runs = c.search_runs([exp.experiment_id]) if exp else []
        if runs and c.list_artifacts(runs[0].info.run_id, "checkpoint"):
            return runs[0].info.run_id
    raise AssertionError(f"no checkpoint within {timeout} s (gp exit status {proc.poll()})")


def test_sigterm_to_submit_ends_the_run_killed_and_stops_every_process(tmp_path):
    proc, started = start(tmp_path, "submit", "plugin=vae", "data=digits", "trainer.epochs=200", "model.hidden=16"), []
    try:
        run_id = first_checkpoint(proc, timeout=300)
        started = psutil().Process(proc.pid).children(recursive=True)  # Ray's GCS, raylet, workers, ...
        assert started, "gp started no processes"
        err = stop(proc, signal.SIGTERM, tmp_path)
        left = left_after(started, 60)
    finally:
        kill_leftovers(proc, started)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "SIGTERM received" not in err, err  # no Ray stack dump
    assert err.rstrip().endswith("terminated"), err
    assert left == []
    c = tracking.client()
    run = c.get_run(run_id)
    assert run.info.status == "KILLED"
    assert f"gp submit resume={run_id}" in run.data.tags["gp.failure"]
    assert [a.path for a in c.list_artifacts(run_id, "checkpoint")] == ["checkpoint/model.pt"]


def test_sigterm_while_validating_exits_143_in_one_line(tmp_path):
    fifo = tmp_path / "job.yaml"
    os.mkfifo(fifo)  # gp blocks reading its config from it: before Ray or anything else starts
    proc = start(tmp_path, "submit", "--config", str(fifo), "plugin=vae")
    try:
        writer = open_when_read(fifo, proc, timeout=60)
        err = stop(proc, signal.SIGTERM, tmp_path)
        os.close(writer)
    finally:
        kill_leftovers(proc, [])
    assert proc.returncode == 143, err
    assert err.strip() == "terminated"


def open_when_read(fifo, proc: subprocess.Popen, timeout: float) -> int:
    """The FIFO's write end, once gp has opened it for reading (so its handlers are set)."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            time.sleep(0.1)
    raise AssertionError(f"gp did not read its config within {timeout} s (exit status {proc.poll()})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s (gp exit status {proc.poll()})")


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_stopping_gp_ui_stops_the_server_and_its_workers(tmp_path, sig, status):
    port, started = free_port(), []
    proc = start(tmp_path, "ui", "--port", str(port))
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", proc, timeout=120)
        started = psutil().Process(proc.pid).children(recursive=True)  # the server, uvicorn, job workers
        assert started
        err = stop(proc, sig, tmp_path)  # to gp alone: the server is in a session of its own
        left = left_after(started, 30)
    finally:
        kill_leftovers(proc, started)
    assert proc.returncode == status, err
    assert "Traceback" not in err, err
    assert left == []


def test_sigterm_during_ray_init_becomes_terminated_and_gp_handler_returns():
    from gp import signals

    before = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(signals.Terminated), signals.after_ray_init():
            signal.signal(signal.SIGTERM, lambda signum, frame: None)  # what ray.init does ...
            raise SystemExit(signal.SIGTERM)  # ... and what its handler raises
        assert signal.getsignal(signal.SIGTERM) is signals._on_sigterm
        assert signals.exit_status() == 143
    finally:
        signal.signal(signal.SIGTERM, before)
        signals._State.terminated = False
