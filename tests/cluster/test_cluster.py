"""gp on a real two-node Ray cluster with a shared, access-controlled MLflow server.

Every job goes through ``gp submit --address http://HEAD:8265`` (the Ray Jobs API). The
faults each check that nothing is lost: every metric point is counted. The tests run in
file order: the last one replaces a node.
"""
from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import signal
import subprocess
import threading
import time

import pytest

from gp.shipping import tree_hash
from tests.cluster.conftest import PLUGIN, record, with_descendants
from tests.helpers import ROOT, one_line_error

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

SLEEPY = ("plugin=sleepy", "data=digits", "trainer.num_workers=2", "trainer.batch_size=8",
          "trainer.log_every=1", "trainer.samples=16")


def ids(text: str) -> tuple[str, str]:
    """(job id, run id) from gp submit's output."""
    found = re.search(r"job (\S+) submitted to \S+; run ([0-9a-f]{32})", text)
    assert found, text
    return found.group(1), found.group(2)


def history(cluster, run_id: str, key: str = "model/loss") -> list:
    return cluster.mlflow(lambda c: c.get_metric_history(run_id, key))


def wait_until(check, timeout: float, what: str, every: float = 0.5, explain=None):
    """``check()``'s first truthy value; a timeout says ``what`` and, given, ``explain()``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}" + (f":\n{explain()}" if explain else ""))


def wait_steps(cluster, run_id: str, n: int, job_id: str, timeout: float = 300) -> int:
    """Wait until the run has logged step ``n``; return the last step logged. A job that
    ends first, or a wait that times out, fails at once with the job's state and logs."""
    def reached():
        top = max((m.step for m in history(cluster, run_id)), default=0)
        if top >= n:
            return top
        if cluster.job(job_id)["status"] in ("SUCCEEDED", "FAILED", "STOPPED"):
            raise AssertionError(f"job ended before step {n} of run {run_id}:\n{cluster.explain(job_id)}")
        return None

    return wait_until(reached, timeout, f"step {n} of run {run_id}", explain=lambda: cluster.explain(job_id))


def unique_steps(points) -> list[int]:
    return sorted({m.step for m in points})


def workers(cluster, job_id: str, **filters) -> list[dict]:
    """The Ray Train worker actors of a job (its Ray job id comes from the Jobs API)."""
    ray_job = wait_until(lambda: cluster.job(job_id).get("job_id"), 120, f"job {job_id} to start")
    return cluster.state("actors", class_name="RayTrainWorker", job_id=ray_job, **filters)


def run_of(cluster, run_id: str):
    return cluster.mlflow(lambda c: c.get_run(run_id))


def runs_of_job(cluster, job_id: str) -> list:
    def search(c):
        exps = [e.experiment_id for e in c.search_experiments()]
        return c.search_runs(exps, filter_string=f"tags.`gp.ray.job_id` = '{job_id}'")

    return cluster.mlflow(search)


# --- refusals: no token, no credentials ------------------------------------------------

def test_submit_without_ray_token_is_refused_at_once(cluster, tmp_path):
    env = cluster.env(RAY_AUTH_TOKEN_PATH=None, HOME=str(tmp_path))
    t0 = time.time()
    line = one_line_error(cluster.gp("submit", "--address", cluster.address, "plugin=aae", env=env))
    assert "no Ray token" in line and "RAY_AUTH_TOKEN" in line
    gcs = one_line_error(cluster.gp("submit", "--address", "127.0.0.1:6379", "plugin=aae", "data=digits", env=env))
    assert "no Ray token" in gcs
    assert time.time() - t0 < 60  # Ray alone would retry ~20 s and raise a generic ConnectionError
    wrong = cluster.env(RAY_AUTH_TOKEN="0" * 64)
    assert "refused the token" in one_line_error(cluster.gp("jobs", "--address", cluster.address, env=wrong))


def test_submit_without_mlflow_credentials_is_refused(cluster):
    for env in (cluster.env(MLFLOW_TRACKING_USERNAME=None, MLFLOW_TRACKING_PASSWORD=None),
                cluster.env(MLFLOW_TRACKING_PASSWORD="wrong-password")):
        line = one_line_error(cluster.gp("submit", "--address", cluster.address, "plugin=aae", "data=digits", env=env))
        assert "refused the request (HTTP 401)" in line and "MLFLOW_TRACKING_USERNAME" in line
    assert cluster.gp("jobs", "--address", cluster.address).stdout.strip() == "no gp jobs on this cluster"


def test_commands_that_read_runs_say_the_server_refused_the_credentials(cluster):
    wrong = cluster.env(MLFLOW_TRACKING_PASSWORD="wrong-password")
    for args in (("runs",), ("sample", "0" * 32, "--out", "/tmp/never.png")):
        line = one_line_error(cluster.gp(*args, env=wrong))
        assert "refused the request (HTTP 401)" in line and "MLFLOW_TRACKING_PASSWORD" in line, line


def test_more_workers_than_the_cluster_has_cpus_are_refused_before_submitting(cluster):
    t0 = time.time()
    proc = cluster.gp("submit", "--address", cluster.address, "plugin=aae", "data=digits", "trainer.num_workers=50")
    line = one_line_error(proc)
    assert "trainer.num_workers=50 needs 50 CPU(s) but the Ray cluster has 2" in line, line
    assert "gp: job" not in proc.stdout and not [j for j in cluster.gp("jobs", "--address", cluster.address).stdout.splitlines()
                                                  if "num_workers" in j]
    record(f"trainer.num_workers=50 on 2 CPUs: refused in {time.time() - t0:.1f} s, before submitting")


# --- two nodes, one shared run ----------------------------------------------------------

def test_two_workers_on_two_nodes_log_one_run(cluster):
    t0 = time.time()
    proc = cluster.gp("submit", "--address", cluster.address, "plugin=aae", "data=digits", "trainer.epochs=2",
                      "trainer.num_workers=2", "trainer.log_every=1", "model.latent_dim=2")
    returned = time.time() - t0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    job_id, run_id = ids(proc.stdout)
    follow = cluster.gp("logs", job_id, "--address", cluster.address, "--follow")
    assert "gp: run " + run_id + " finished" in follow.stdout, follow.stdout[-3000:]
    assert cluster.job(job_id)["status"] == "SUCCEEDED"
    assert re.search(rf"{job_id}\s+SUCCEEDED\s+{run_id}\s+aae", cluster.gp("jobs", "--address", cluster.address).stdout)
    assert cluster.gp("stop", job_id, "--address", cluster.address).stdout.strip() == f"gp: job {job_id} already succeeded"
    placed = [w["node_id"] for w in workers(cluster, job_id)]
    assert len(placed) == 2 and len(set(placed)) == 2  # one worker per node: each node offers one CPU
    assert list((cluster.base / "storage").glob(f"{run_id}-*"))  # Ray Train used the nodes' GP_STORAGE_PATH

    run = run_of(cluster, run_id)
    assert run.info.status == "FINISHED" and len(runs_of_job(cluster, job_id)) == 1
    points = history(cluster, run_id, "reconstruction/loss")
    assert [m.step for m in points] == list(range(1, 23))  # rank 0 alone logs each step once
    images = cluster.mlflow(lambda c: [a.path for a in c.list_artifacts(run_id, "images")])
    assert sorted(int(p.split("+")[2]) for p in images if "/samples+" in p and p.endswith(".png")) == [0, 1, 2]
    first = points[0].timestamp / 1000 - t0
    record(f"two-node aae: submit returned in {returned:.1f} s; first training step {first:.1f} s after "
           f"'gp submit --address' (run tag gp.seconds_to_first_step={run.data.tags['gp.seconds_to_first_step']})")


def test_no_secret_in_any_param_or_tag(cluster):
    secrets = [cluster.password, cluster.admin_password, cluster.token.read_text().strip(),
               (cluster.base / "mlflow" / "secret_key").read_text().strip()]

    def everything(c):
        runs = c.search_runs([e.experiment_id for e in c.search_experiments()])
        return runs, " ".join(f"{k}={v}" for r in runs for d in (r.data.params, r.data.tags) for k, v in d.items())

    runs, text = cluster.mlflow(everything)
    assert runs, "no runs to check"
    assert not [s for s in secrets if s in text]
    assert not re.search(r"MLFLOW_TRACKING_PASSWORD|RAY_AUTH_TOKEN=", text)


def files_holding(folders, secrets: list[str]) -> tuple[int, dict[str, list[str]]]:
    """(files searched, {secret: files that contain it}) under ``folders``, at any depth."""
    files = [f for d in folders for f in pathlib.Path(d).rglob("*") if f.is_file() and not f.is_symlink()]
    found: dict[str, list[str]] = {s: [] for s in secrets}
    for f in files:
        with contextlib.suppress(OSError):
            data = f.read_bytes()
            for s in secrets:
                if s.encode() in data:
                    found[s].append(str(f))
    return len(files), found


def test_no_user_password_on_any_node_nor_in_job_metadata_or_logs(cluster):
    proc = cluster.gp("submit", "--address", cluster.address, "--follow", *SLEEPY, "trainer.epochs=1",
                      "trainer.steps_per_epoch=4", "model.step_seconds=0.05")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    job_id, run_id = ids(proc.stdout)
    searched, found = files_holding(cluster.nodes.values(), [cluster.password, cluster.cluster_password])
    metadata = json.dumps(cluster.job(job_id))  # what JobSubmissionClient.get_job_info returns
    logs = [cluster.gp("logs", job_id, "--address", cluster.address, *extra) for extra in ((), ("--all",))]
    shown = "".join(p.stdout + p.stderr for p in logs)
    record(f"secret search after a job: {searched} files under {len(cluster.nodes)} nodes' session folders; the "
           f"user's password in {len(found[cluster.password])} of them "
           f"({', '.join(sorted({pathlib.Path(f).name for f in found[cluster.password]})[:4]) or 'none'}), "
           f"the cluster's own in {len(found[cluster.cluster_password])}; in the job metadata: "
           f"{cluster.password in metadata}; in gp logs: {cluster.password in shown}")
    assert found == {cluster.password: [], cluster.cluster_password: []}
    assert cluster.password not in metadata and "MLFLOW_TRACKING_PASSWORD" not in metadata
    assert all(p.returncode == 0 for p in logs) and cluster.password not in shown
    default, everything = (p.stdout.split("\n") for p in logs)
    assert set(default) <= set(everything) and len(default) < len(everything)
    assert f"gp: run {run_id} finished" in default and "lines of Ray and MLflow hidden" in logs[0].stderr
    tags = run_of(cluster, run_id).data.tags  # the job ran as the cluster's account, for this user
    assert tags["gp.submitted_by"] == "trainer" and tags["mlflow.user"] == "trainer"
    assert run_of(cluster, run_id).info.status == "FINISHED"


# --- faults -------------------------------------------------------------------------------

EVERY_S = 3  # trainer.checkpoint_every_s in the fault tests: steps are committed to the run every ~12 steps


def idle_first(cluster) -> None:
    """Wait until the previous job has released the nodes (its workers may still be ending)."""
    waited = cluster.wait_idle()
    if waited > 5:
        record(f"waited {waited:.0f} s for the cluster to release a previous job's workers")


def submit_sleepy(cluster, *args) -> tuple[str, str]:
    """Submit a sleepy job once the cluster is idle: (job, run)."""
    idle_first(cluster)
    proc = cluster.gp("submit", "--address", cluster.address, *SLEEPY, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return ids(proc.stdout)


def exactly_once(points, steps: int) -> None:
    """Each step once in a run's history: no step missing, none logged twice."""
    assert sorted(m.step for m in points) == list(range(1, steps + 1)), f"{len(points)} points for {steps} steps"


def lost_seconds(points, at: float, step_seconds: float) -> tuple[float, int]:
    """(seconds lost to a failure at time ``at``, last step committed before it): the wall-clock
    gap between the last step logged before the failure and the next one, less one step's time.
    It counts both the work redone since that step's checkpoint and the time to recover."""
    ordered = sorted(points, key=lambda m: m.step)
    before = max((m for m in ordered if m.timestamp / 1000 <= at), key=lambda m: m.step)
    after = ordered[before.step]  # the next step, run after the recovery
    return (after.timestamp - before.timestamp) / 1000 - step_seconds, before.step


def test_killed_worker_resumes_from_its_checkpoint_in_the_same_run(cluster):
    job_id, run_id = submit_sleepy(cluster, "trainer.epochs=2", "trainer.steps_per_epoch=30",
                                   "model.step_seconds=0.25", f"trainer.checkpoint_every_s={EVERY_S}")
    before = wait_steps(cluster, run_id, 36, job_id)  # in epoch 2, after a checkpoint within it
    on_w1 = [w for w in workers(cluster, job_id, state="ALIVE") if cluster.node_of(w["pid"]) == "w1"]
    assert len(on_w1) == 1, on_w1
    victim = on_w1[0]
    killed_at = time.time()
    os.kill(victim["pid"], signal.SIGKILL)
    info = cluster.wait_job(job_id)
    assert info["status"] == "SUCCEEDED", info
    logs = cluster.gp("logs", job_id, "--address", cluster.address).stdout
    assert "worker failure 1:" in logs and "restarting the workers from the last checkpoint" in logs, logs[-3000:]
    said = re.search(r"gp: worker failure 1: .*", logs).group(0)

    points = history(cluster, run_id)
    exactly_once(points, 60)
    lost, committed = lost_seconds(points, killed_at, 0.25)
    at_commit = sorted(points, key=lambda m: m.step)[committed - 1].timestamp / 1000
    assert committed >= before and killed_at - at_commit <= EVERY_S + 3  # at most a checkpoint interval redone
    run = run_of(cluster, run_id)
    assert run.info.status == "FINISHED" and run.data.tags["gp.worker_failures"] == "1"
    assert "gp.failure" not in run.data.tags
    assert len(runs_of_job(cluster, job_id)) == 1
    tags = run.data.tags
    assert (tags["gp.plugin.dist"], tags["gp.plugin.version"], tags["gp.plugin.shipped"]) == ("gp-sleepy", "0.3", "true")
    assert tags["gp.plugin.hash"] == tree_hash(PLUGIN / "gp_sleepy.py")
    record(f"killed worker (pid {victim['pid']}, node w1) after step {committed} was committed "
           f"(checkpoint every {EVERY_S} s): {lost:.1f} s lost (recovery plus work redone); metric points "
           f"{len(points)} for 60 steps, each step once; the job said: {said[:160]}")


def test_tracking_server_down_for_30_s_loses_no_metric_point(cluster):
    job_id, run_id = submit_sleepy(cluster, "trainer.epochs=2", "trainer.steps_per_epoch=60",
                                   "model.step_seconds=0.25")
    wait_steps(cluster, run_id, 10, job_id)
    down = time.time()
    cluster.stop_mlflow()
    time.sleep(max(0.0, 30 - (time.time() - down)))
    up = time.time()
    cluster.start_mlflow()
    restart = cluster.wait_mlflow()
    info = cluster.wait_job(job_id)
    assert info["status"] == "SUCCEEDED", info

    points = history(cluster, run_id)
    during = [m for m in points if down <= m.timestamp / 1000 <= up]
    assert len(points) == 120 and unique_steps(points) == list(range(1, 121))
    assert len(during) >= 20  # training went on while the server was down
    assert run_of(cluster, run_id).info.status == "FINISHED"
    record(f"tracking server down {up - down:.0f} s (+{restart:.0f} s to restart): metric points logged 120, "
           f"found {len(points)}; {len(during)} of them were taken while it was down")


def _collect(stream, into: list) -> threading.Thread:
    thread = threading.Thread(target=lambda: into.extend(stream), daemon=True)
    thread.start()
    return thread


def interrupt(cluster, *args, at_step: int) -> tuple[str, str, str]:
    """``gp submit --follow ARGS``, Ctrl-C once the run has logged ``at_step``: (job, run, stderr)."""
    idle_first(cluster)
    proc = cluster.gp_popen("submit", "--address", cluster.address, "--follow", *args)
    out, err = [], []
    threads = [_collect(proc.stdout, out), _collect(proc.stderr, err)]
    job_id, run_id = wait_until(lambda: re.search(r"submitted", "".join(out)) and ids("".join(out)), 120, "submission")
    wait_steps(cluster, run_id, at_step, job_id)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130, "".join(err)[-3000:]
    [t.join(5) for t in threads]
    return job_id, run_id, "".join(err)


def test_ctrl_c_twice_then_resume_keeps_every_step_once(cluster):
    job_id, run_id, err = interrupt(cluster, *SLEEPY, "trainer.epochs=3", "trainer.steps_per_epoch=20",
                                    "model.step_seconds=0.25", f"trainer.checkpoint_every_s={EVERY_S}", at_step=25)
    assert "stopping job" in err and f"resume={run_id}" in err
    assert cluster.job(job_id)["status"] == "STOPPED"
    run = wait_until(lambda: (r := run_of(cluster, run_id)).info.status == "KILLED" and r, 60, "run KILLED")
    assert "interrupted" in run.data.tags["gp.failure"]
    kept = cluster.mlflow(lambda c: [a.path for a in c.list_artifacts(run_id, "checkpoint")])
    assert kept == ["checkpoint/model.pt"]
    first_stop = max(m.step for m in history(cluster, run_id))
    assert int(run.data.tags["gp.committed_step"]) == first_stop  # the stop committed where the workers were

    _, again, _ = interrupt(cluster, f"resume={run_id}", at_step=first_stop + 10)
    assert again == run_id
    second_stop = max(m.step for m in history(cluster, run_id))
    resumed = cluster.gp("submit", "--address", cluster.address, "--follow", f"resume={run_id}")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert ids(resumed.stdout)[1] == run_id
    points = history(cluster, run_id)
    exactly_once(points, 60)
    run = run_of(cluster, run_id)
    assert run.info.status == "FINISHED" and "gp.failure" not in run.data.tags
    assert "interrupted" in run.data.tags["gp.failure.earlier"]
    record(f"Ctrl-C at steps {first_stop} and {second_stop}, each committing a checkpoint there; resume= finished "
           f"the run: {len(points)} points per metric for 60 steps after two restarts, each step once")


def test_node_removed_mid_run_recovers_on_a_new_node(cluster):
    job_id, run_id = submit_sleepy(cluster, "trainer.epochs=2", "trainer.steps_per_epoch=30",
                                   "model.step_seconds=0.25", f"trainer.checkpoint_every_s={EVERY_S}")
    before = wait_steps(cluster, run_id, 36, job_id)
    assert any(cluster.node_of(w["pid"]) == "w1" for w in workers(cluster, job_id, state="ALIVE"))
    removed_at = time.time()
    cluster.remove_node("w1")
    assert cluster.node_pids("w1") == []
    joined = cluster.start_node("w2", 20200, "15000-19999")
    info = cluster.wait_job(job_id)
    logs = cluster.gp("logs", job_id, "--address", cluster.address).stdout
    assert info["status"] == "SUCCEEDED", logs[-3000:]
    assert "worker failure 1:" in logs and "restarting the workers from the last checkpoint" in logs

    points = history(cluster, run_id)
    exactly_once(points, 60)
    lost, committed = lost_seconds(points, removed_at, 0.25)
    run = run_of(cluster, run_id)
    assert run.info.status == "FINISHED" and run.data.tags["gp.worker_failures"] == "1" and committed >= before
    record(f"node removed after step {committed} was committed, new node joined in {joined:.0f} s: {lost:.0f} s lost "
           f"(recovery plus work redone); metric points {len(points)} for 60 steps, each step once")


def running_besides(cluster, keep: set[int], settle: float = 15) -> dict[int, tuple[str, bytes]]:
    """Processes still running in the namespace besides ``keep``: pid -> (state, command line).
    A zombie has ended; one still in its exit (an empty command line) gets ``settle`` seconds."""
    def snapshot() -> dict:
        found = {}
        for pid in cluster.ns.pids() - keep:
            with contextlib.suppress(OSError):
                state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found[pid] = (state, pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()[:120])
        return found

    deadline = time.time() + settle
    left = snapshot()
    while left and time.time() < deadline and not all(cmd for _, cmd in left.values()):
        time.sleep(0.5)
        left = snapshot()
    return left


def test_stop_node_stops_exactly_that_nodes_processes(cluster):
    """cluster/stop-node.sh DIR run inside 'timeout' (whose command line names DIR), with a
    bystander naming DIR too: each node's processes end, the wrapper and the bystander live."""
    head = cluster.nodes["head"]
    keep = set(with_descendants([cluster.mlflow_proc.pid]))
    bystander = subprocess.Popen(cluster.ns.cmd("bash", "-c", f"sleep 600 # {head} {head}/session_latest"))
    time.sleep(0.5)
    stopped = []
    alive = [n for n in cluster.nodes if n != "head" and cluster.node_pids(n)]  # a removed node has none left
    for name in alive + ["head"]:  # the workers, then the head
        others = {n for n in cluster.nodes if n != name and cluster.node_pids(n)}
        before = set(cluster.ns.pids()) - keep - {bystander.pid}
        out = subprocess.run(["timeout", "120", "bash", ROOT / "cluster" / "stop-node.sh", cluster.nodes[name]],
                             capture_output=True, text=True, timeout=150)
        assert out.returncode == 0 and out.stdout.startswith("stopped "), out.stdout + out.stderr
        assert cluster.node_pids(name) == [] and all(cluster.node_pids(n) for n in others)
        stopped.append(f"{name} {len(before - set(cluster.ns.pids()))}")
    left = running_besides(cluster, keep | {bystander.pid})
    assert left == {}  # the head's ray.util.client.server included
    assert bystander.poll() is None
    bystander.kill()
    bystander.wait()
    record(f"stop-node.sh stopped (node, processes): {', '.join(stopped)}; left in the namespace besides "
           f"the tracking server and a bystander: {len(left)}")
