"""`gp ui` serves the MLflow UI for gp's store on loopback."""
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.helpers import GP

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gp_ui_serves_the_local_store():
    port = free_port()
    proc = subprocess.Popen([GP, "ui", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline, body = time.time() + 90, ""
        while time.time() < deadline and not body:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read().decode()
            except OSError:
                time.sleep(1)
        assert body.strip() == "OK"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the process group this test started
        proc.wait(timeout=30)
