"""``gp ui``: the MLflow UI on gp's tracking store, stopped together with everything it started.

The server (``python -m mlflow ui``, its web server and their workers) runs in a session of
its own, so Ctrl-C in a terminal reaches gp alone; whenever gp stops (Ctrl-C, SIGTERM, or
the server ending by itself) it stops that whole process group by its id: SIGTERM, then
SIGKILL for what is left after :data:`STOP_GRACE_S` seconds.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from gp import tracking
from gp.errors import GpError

STOP_GRACE_S = 10.0


def serve_ui(port: int) -> None:
    """Serve on 127.0.0.1:``port`` until interrupted (the KeyboardInterrupt propagates) or
    the server ends; one line if it ends with an error (a port in use, say)."""
    _check_port(port)
    uri = tracking.tracking_uri()
    print(f"MLflow UI for {uri} on http://127.0.0.1:{port}", flush=True)
    proc = subprocess.Popen(_command(uri, port), start_new_session=True)
    try:
        status = proc.wait()
    finally:
        _stop_group(proc)
    if status != 0:
        raise GpError(f"the MLflow UI stopped with exit status {status}")


def _check_port(port: int) -> None:
    """One line now if the port is taken (the server would log the error and exit 0)."""
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            raise GpError(f"cannot serve on 127.0.0.1:{port} ({exc.strerror}); pick another port with --port") from None


def _command(uri: str, port: int) -> list[str]:
    return [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop the server's process group (its id is the server's pid), with Ctrl-C and SIGTERM
    held back meanwhile so that a second one cannot leave part of it running."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        if _signal_group(proc.pid, signal.SIGTERM):
            _wait_group(proc, time.monotonic() + STOP_GRACE_S)
            _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _wait_group(proc: subprocess.Popen, deadline: float) -> None:
    """Wait until every process of the group has ended, or until ``deadline``."""
    try:
        proc.wait(max(0.0, deadline - time.monotonic()))  # reaped: a zombie leader would count as alive
    except subprocess.TimeoutExpired:
        return
    while time.monotonic() < deadline and _signal_group(proc.pid, 0):
        time.sleep(0.1)


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to process group ``pgid``; False if no process of it is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True
