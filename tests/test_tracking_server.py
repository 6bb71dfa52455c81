"""Commands that talk to a tracking server: one line for refused credentials, a bounded and
announced wait for a server that is down (GP_TRACKING_TIMEOUT)."""
import http.server
import socket
import threading
import time

import pytest

from gp import commands, tracking
from gp.eval.command import run_eval
from gp.errors import GpError


class _Refusing(http.server.BaseHTTPRequestHandler):
    """An MLflow server with basic auth, to a client with a wrong password: /health answers,
    everything else is 401."""

    def _answer(self):
        ok = self.path == "/health"
        body = b"OK" if ok else b"You are not authenticated. Please see the documentation."
        self.send_response(200 if ok else 401)
        if not ok:
            self.send_header("WWW-Authenticate", 'Basic realm="mlflow"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def bounded(monkeypatch):
    """Bounded MLflow retries, restored after the test (gp sets them only if unset)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")


@pytest.fixture
def refusing(monkeypatch, bounded):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
    yield
    server.shutdown()


def test_sample_and_runs_say_the_server_refused_the_credentials(refusing, tmp_path):
    refused = r"refused the request \(HTTP 401\): set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
    with pytest.raises(GpError, match=refused):
        commands.sample_run("0" * 32, [], str(tmp_path / "x.png"))
    with pytest.raises(GpError, match=refused):
        commands.runs_table("gp", 5)
    with pytest.raises(GpError, match=refused):
        run_eval(["0" * 32], local=True)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_server_that_is_down_is_waited_for_a_bounded_time_saying_so(monkeypatch, bounded, capsys):
    uri = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("GP_TRACKING_TIMEOUT", "3")
    t0 = time.monotonic()
    with pytest.raises(GpError, match=rf"the tracking server at {uri} did not answer within 3 s \(.*refused.*\); "
                                      r"is it up\? \(GP_TRACKING_TIMEOUT"):
        commands.runs_table("gp", 5)
    took = time.monotonic() - t0
    assert 3 <= took < 6
    said = capsys.readouterr().err
    assert said.count("gp: waiting for the tracking server") == 1 and "up to 3 s" in said
    with pytest.raises(GpError, match=rf"the tracking server at {uri} did not answer within 3 s"):
        run_eval(["0" * 32], local=True)


def test_a_local_store_is_never_waited_for(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/m.db")
    monkeypatch.setenv("GP_TRACKING_TIMEOUT", "nonsense")
    tracking.wait_for_server()  # returns at once, without reading the timeout
    with pytest.raises(GpError, match="GP_TRACKING_TIMEOUT='nonsense' is not a number"):
        tracking.timeout_s()


def test_a_local_submit_says_so_before_starting_ray(monkeypatch, capsys):
    from gp import orchestrate

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("GP_TRACKING_TIMEOUT", "2")
    with pytest.raises(GpError, match="did not answer within 2 s"):
        orchestrate.submit(["plugin=vae", "data=digits"])
    assert "gp: waiting for the tracking server" in capsys.readouterr().err
