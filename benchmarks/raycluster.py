"""A throwaway local Ray cluster (``ray start --head``) for the benchmarks.

It gets its own session folder and free ports, and is stopped by the process ids whose
command lines name that folder (never ``ray stop``, which would stop everyone's Ray).
"""
from __future__ import annotations

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port() -> int:
    """A free TCP port outside Ray's worker range (10002-19999)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not 10002 <= port <= 19999:
            return port


def client_env(env: dict | None = None) -> dict:
    """Environment for the cluster and its clients: Ray's token authentication on."""
    return dict(os.environ if env is None else env, RAY_AUTH_MODE="token")


class LocalCluster:
    def __init__(self, num_cpus: int = 2):
        self.num_cpus = num_cpus
        self.temp = tempfile.mkdtemp(prefix="gpb-", dir="/tmp")  # short: Ray's socket paths are limited
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"

    def start(self) -> "LocalCluster":
        ray = str(pathlib.Path(sys.executable).parent / "ray")
        cmd = [ray, "start", "--head", f"--port={self.port}", f"--num-cpus={self.num_cpus}",
               f"--temp-dir={self.temp}", "--node-ip-address=127.0.0.1", "--dashboard-host=127.0.0.1",
               f"--dashboard-port={free_port()}", "--disable-usage-stats"]
        for flag in ("--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
                     "--dashboard-agent-grpc-port", "--metrics-export-port", "--runtime-env-agent-port"):
            cmd.append(f"{flag}={free_port()}")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=client_env())
        if proc.returncode:
            self.stop()
            raise RuntimeError(f"ray start failed: {proc.stderr[-1500:]}")
        return self

    def pids(self) -> list[int]:
        """Processes whose command line names this cluster's session folder."""
        found = []
        for entry in pathlib.Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if self.temp.encode() in (entry / "cmdline").read_bytes():
                        found.append(int(entry.name))
                except OSError:
                    continue
        return [p for p in found if p != os.getpid()]

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            deadline = time.time() + wait
            while self.pids() and time.time() < deadline:
                time.sleep(0.2)
        shutil.rmtree(self.temp, ignore_errors=True)
