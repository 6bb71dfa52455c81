"""A real multi-node Ray cluster and a real MLflow server with basic auth, for the cluster tests.

Everything runs on 127.0.0.1 inside a network namespace of its own that has only a
loopback interface (outside one, Ray listens on the machine's routable address). The
nodes and the server are started with the scripts in cluster/, exactly as docs/cluster.md
tells a team to (the nodes log with their own MLflow account, 'gp-cluster', from a
tracking.env file of mode 600; users submit with theirs), and stopped by process id: the
processes of a node are those whose command line names its --temp-dir, with their
descendants, and at the end every process left in the namespace (`ip netns pids`), which
only this run's processes can be in.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import json
import os
import pathlib
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

from tests.helpers import ROOT

BIN = pathlib.Path(sys.executable).parent
PLUGIN = ROOT / "tests" / "cluster" / "plugin"  # on the submitting machine only
CLONE_NEWNET = 0x40000000
NUMBERS: list[str] = []  # measurements, printed at the end of the test session
GCS, DASHBOARD, MLFLOW = 6379, 8265, 5000  # the namespace has its own ports


def record(line: str) -> None:
    """Keep a measurement for the summary at the end of the run."""
    NUMBERS.append(line)


def pytest_terminal_summary(terminalreporter):
    if NUMBERS:
        terminalreporter.section("cluster measurements")
        for line in NUMBERS:
            terminalreporter.write_line(line)


def _why_no_netns() -> str | None:
    if os.geteuid() != 0:
        return "cluster tests need root, to make a network namespace with 'ip netns'"
    if not shutil.which("ip"):
        return "cluster tests need 'ip' (iproute2) for a network namespace"
    probe = f"gpprobe{os.getpid()}"
    out = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None if out.returncode == 0 else f"'ip netns add' failed: {out.stderr.strip()}"


class Netns:
    """A network namespace with only 'lo'; commands and Python calls inside it."""

    def __init__(self, name: str):
        self.name = name
        subprocess.run(["ip", "netns", "add", name], check=True)
        subprocess.run(self.cmd("ip", "link", "set", "lo", "up"), check=True)
        self._pool = concurrent.futures.ThreadPoolExecutor(1, initializer=self._enter)

    def cmd(self, *args) -> list[str]:
        return ["ip", "netns", "exec", self.name, *map(str, args)]

    def _enter(self) -> None:
        """Move this (pool) thread into the namespace: its sockets then live there."""
        fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)

    def call(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` on a thread inside the namespace."""
        return self._pool.submit(fn, *args, **kwargs).result()

    def pids(self) -> set[int]:
        out = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True)
        return {int(p) for p in out.stdout.split()}

    def delete(self) -> None:
        self._pool.shutdown(wait=False)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc."""
    tree: dict[int, list[int]] = {}
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(stat.parent.name))
    return tree


def with_descendants(pids) -> list[int]:
    tree, out, todo = children(), [], list(pids)
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.append(pid)
            todo.extend(tree.get(pid, []))
    return out


def pids_naming(text: str) -> list[int]:
    """Processes whose command line contains ``text`` (a node's unique --temp-dir)."""
    found = []
    for cmdline in pathlib.Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def kill(pids, grace: float = 0.0) -> None:
    """SIGTERM (if ``grace``) then SIGKILL each pid; wait until they are gone."""
    pids = [p for p in pids if p != os.getpid()]
    for sig in ([signal.SIGTERM] if grace else []) + [signal.SIGKILL]:
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + (grace or 5)
        while time.time() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    if state == "Z":
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


class Cluster:
    """Nodes, the tracking server and clients; every process started here, stopped by pid."""

    def __init__(self, ns: Netns, base: pathlib.Path):
        self.ns, self.base = ns, base
        self.token = base / "token"
        self.nodes: dict[str, pathlib.Path] = {}
        self.address, self.tracking = f"http://127.0.0.1:{DASHBOARD}", f"http://127.0.0.1:{MLFLOW}"
        self.admin_password, self.password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
        self.cluster_password = secrets.token_urlsafe(18)  # the nodes' own MLflow account, 'gp-cluster'
        self.tracking_env = base / "tracking.env"  # as /etc/gp/tracking.env: the admin's file, mode 600
        self.tracking_env.write_text(f"MLFLOW_TRACKING_USERNAME=gp-cluster\nMLFLOW_TRACKING_PASSWORD={self.cluster_password}\n")
        self.tracking_env.chmod(0o600)
        self.mlflow_proc: subprocess.Popen | None = None

    # --- environments ---
    def _clean(self) -> dict:
        drop = ("RAY_", "MLFLOW_", "GP_", "PYTHONPATH")
        return {k: v for k, v in os.environ.items() if not k.startswith(drop)}

    def node_env(self, **extra) -> dict:
        home = self.base / "node-home"
        home.mkdir(exist_ok=True)
        return {**self._clean(), "HOME": str(home), "RAY": str(BIN / "ray"), "RAY_AUTH_TOKEN_PATH": str(self.token),
                "GP_NODE_IP": "127.0.0.1", "GP_NUM_CPUS": "1", "GP_STORAGE_PATH": str(self.base / "storage"),
                "GP_HOME": str(self.base / "node-gp-home"), "GP_TRACKING_ENV": str(self.tracking_env), **extra}

    def env(self, **extra) -> dict:
        """A submitting user's environment: the token, MLflow account, the test plugin."""
        env = {**self._clean(), "RAY_AUTH_TOKEN_PATH": str(self.token), "MLFLOW_TRACKING_URI": self.tracking,
               "MLFLOW_TRACKING_USERNAME": "trainer", "MLFLOW_TRACKING_PASSWORD": self.password,
               "GP_HOME": str(self.base / "client-gp-home"), "PYTHONPATH": str(PLUGIN)}
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    # --- Ray nodes ---
    def start_node(self, name: str, port_base: int, workers: str, head: bool = False) -> float:
        """Start a node with cluster/start-head.sh or start-worker.sh; return seconds taken."""
        temp = self.base / name
        self.nodes[name] = temp
        env = self.node_env(GP_TEMP_DIR=str(temp), GP_PORT_BASE=str(port_base), GP_WORKER_PORTS=workers)
        if head:
            env.update(GP_RAY_PORT=str(GCS), GP_DASHBOARD_HOST="127.0.0.1", GP_DASHBOARD_PORT=str(DASHBOARD))
            args = ["bash", ROOT / "cluster" / "start-head.sh"]
        else:
            args = ["bash", ROOT / "cluster" / "start-worker.sh", f"127.0.0.1:{GCS}"]
        t0 = time.time()
        out = subprocess.run(self.ns.cmd(*args, "--object-store-memory=200000000"), env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        return time.time() - t0

    def node_pids(self, name: str) -> list[int]:
        inside = self.ns.pids()
        return [p for p in with_descendants(pids_naming(str(self.nodes[name]))) if p in inside]

    def remove_node(self, name: str) -> None:
        """The node fails: SIGKILL to all its processes at once."""
        kill(self.node_pids(name))

    def stop_node(self, name: str) -> str:
        """Stop a node as docs/cluster.md does, with cluster/stop-node.sh."""
        out = subprocess.run(["bash", ROOT / "cluster" / "stop-node.sh", self.nodes[name]], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def node_of(self, pid: int) -> str | None:
        """The node a process runs on: the one whose raylet is its ancestor."""
        for name in self.nodes:
            if pid in self.node_pids(name):
                return name
        return None

    # --- the tracking server ---
    def start_mlflow(self) -> None:
        env = {**self._clean(), "MLFLOW": str(BIN / "mlflow"), "GP_MLFLOW_DIR": str(self.base / "mlflow"),
               "GP_MLFLOW_HOST": "127.0.0.1", "GP_MLFLOW_PORT": str(MLFLOW), "GP_MLFLOW_WORKERS": "1",
               "MLFLOW_AUTH_ADMIN_PASSWORD": self.admin_password}
        log = open(self.base / "mlflow.log", "ab")
        self.mlflow_proc = subprocess.Popen(self.ns.cmd("bash", ROOT / "cluster" / "mlflow-server.sh"), env=env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_mlflow(self, timeout: float = 240) -> float:
        t0 = time.time()
        while time.time() - t0 < timeout:
            assert self.mlflow_proc.poll() is None, (self.base / "mlflow.log").read_text()[-3000:]
            if self.ns.call(_http_ok, f"{self.tracking}/health"):
                return time.time() - t0
            time.sleep(0.5)
        raise AssertionError("MLflow server did not come up: " + (self.base / "mlflow.log").read_text()[-3000:])

    def stop_mlflow(self) -> None:
        kill(with_descendants([self.mlflow_proc.pid]), grace=10)
        self.mlflow_proc.wait(timeout=10)

    def add_user(self) -> None:
        def create():
            from mlflow.server import get_app_client

            os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = "admin", self.admin_password
            admin = get_app_client("basic-auth", tracking_uri=self.tracking)
            admin.create_user("trainer", self.password)
            admin.create_user("gp-cluster", self.cluster_password)  # writes into every user's runs
            admin.update_user_admin("gp-cluster", True)
            os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = "trainer", self.password

        self.ns.call(create)

    def mlflow(self, fn, *args):
        """``fn(client, *args)`` with an MlflowClient of user 'trainer', inside the namespace."""
        from mlflow.tracking import MlflowClient

        return self.ns.call(lambda: fn(MlflowClient(self.tracking), *args))

    # --- Ray's state API, over HTTP with the token ---
    def state(self, what: str, **filters) -> list[dict]:
        query = "&".join(f"filter_keys={k}&filter_predicates=%3D&filter_values={v}" for k, v in filters.items())
        request = urllib.request.Request(f"{self.address}/api/v0/{what}?detail=true&limit=1000&{query}",
                                         headers={"Authorization": f"Bearer {self.token.read_text().strip()}"})
        body = self.ns.call(lambda: urllib.request.urlopen(request, timeout=30).read())
        return json.loads(body)["data"]["result"]["result"]

    def job(self, job_id: str) -> dict:
        """The Jobs API's record of a job (status, message, metadata)."""
        request = urllib.request.Request(f"{self.address}/api/jobs/{job_id}",
                                         headers={"Authorization": f"Bearer {self.token.read_text().strip()}"})
        return json.loads(self.ns.call(lambda: urllib.request.urlopen(request, timeout=30).read()))

    def wait_job(self, job_id: str, timeout: float = 600) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            info = self.job(job_id)
            if info["status"] in ("SUCCEEDED", "FAILED", "STOPPED"):
                return info
            time.sleep(1)
        raise AssertionError(f"job {job_id} still {info['status']} after {timeout} s")

    def placement_groups(self) -> list[dict]:
        """The placement groups not yet removed: each holds, or waits for, nodes' CPUs."""
        return [g for g in self.state("placement_groups") if g["state"] != "REMOVED"]

    def wait_idle(self, timeout: float = 180) -> float:
        """Wait until no placement group holds or waits for the nodes' CPUs (a previous test's
        job may still be releasing its workers); return the seconds waited."""
        t0 = time.time()
        while time.time() - t0 < timeout:
            if not self.placement_groups():
                return time.time() - t0
            time.sleep(0.5)
        raise AssertionError(f"the cluster was not idle after {timeout} s:\n{self.explain(None)}")

    def explain(self, job_id: str | None) -> str:
        """What a failed wait shows: the job's state and logs, the cluster's live actors and
        placement groups (each part best-effort)."""
        reads = {"actors": lambda: [(a["class_name"], a["state"], a.get("pid"), self.node_of(a.get("pid") or 0))
                                    for a in self.state("actors") if a["state"] != "DEAD"],
                 "placement groups": lambda: [(g["placement_group_id"][:8], g["state"], g.get("bundles"))
                                              for g in self.placement_groups()]}
        if job_id:
            reads["job"] = lambda: {k: self.job(job_id).get(k) for k in ("status", "message", "job_id")}
            reads["logs"] = lambda: self.gp("logs", job_id, "--address", self.address, "--all", timeout=60).stdout[-4000:]
        parts = []
        for what, read in reads.items():
            try:
                parts.append(f"{what}: {read()}")
            except Exception as error:  # noqa: BLE001 - a diagnosis must not hide the failure
                parts.append(f"{what}: could not read ({error!r})")
        return "\n".join(parts)

    # --- clients ---
    def gp(self, *args, env=None, timeout=600) -> subprocess.CompletedProcess:
        return subprocess.run(self.ns.cmd(BIN / "gp", *args), env=env or self.env(), capture_output=True,
                              text=True, timeout=timeout, cwd=ROOT)

    def gp_popen(self, *args, env=None) -> subprocess.Popen:
        return subprocess.Popen(self.ns.cmd(BIN / "gp", *args), env=env or self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=ROOT)

    def close(self) -> None:
        """Stop the nodes, then every process left in the namespace (all started by this run)."""
        for name in reversed(list(self.nodes)):
            with contextlib.suppress(Exception):
                self.stop_node(name)
        for _ in range(3):
            left = self.ns.pids()
            if not left:
                break
            kill(with_descendants(left), grace=5)
        self.ns.delete()


def _http_ok(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=5).status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def cluster():
    """A head and a worker node (1 CPU each) and an MLflow server with basic auth."""
    reason = _why_no_netns()
    if reason:
        pytest.skip(reason)
    base = pathlib.Path(tempfile.mkdtemp(prefix="gpc", dir="/tmp"))
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    c = Cluster(Netns(f"gp{os.getpid()}"), base)
    try:
        t0 = time.time()
        c.start_mlflow()
        head = c.start_node("head", 20000, "10002-14999", head=True)
        worker = c.start_node("w1", 20100, "15000-19999")
        c.wait_mlflow()
        c.add_user()
        record(f"cluster up: head {head:.0f} s, worker {worker:.0f} s, with MLflow {time.time() - t0:.0f} s")
        yield c
    finally:
        c.close()
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        shutil.rmtree(base, ignore_errors=True)
