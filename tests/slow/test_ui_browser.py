"""The MLflow run page in a real headless browser: a run's sample grid shows on first open.

MLflow's run page ("Model metrics") draws one card per image key whose step slider opens at
step 0, so gp logs the untrained model's pictures at step 0. This test trains a tiny run
in-process (the same loop and logger as a real job), serves the store with ``mlflow ui`` on
127.0.0.1 (the command ``gp ui`` runs), and drives Debian's ``chromium`` over the Chrome
DevTools Protocol (websocket-client, the ``test`` extra): the samples card's picture must
have loaded (``naturalWidth > 0``) at step 0, and its slider must reach the last epoch and
show that epoch's picture. Skipped where chromium is absent (scripts/test.sh installs it
where apt exists).
"""
from __future__ import annotations

import base64
import importlib.util
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from gp import tracking
from gp.train.loop import run
from gp.train.session import LocalSession

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install chromium; scripts/test.sh does where apt exists)"),
    pytest.mark.skipif(importlib.util.find_spec("websocket") is None, reason="no websocket-client (pip install -e '.[test]')"),
]
EPOCHS = 3
STEP_IMAGES = "images%2Fsamples%2Bstep%2B"  # MLflow names step images images/KEY+step+STEP+timestamp+...

# The samples card (the ancestor of its <img> that holds a slider): its picture and slider.
SAMPLES_CARD = """(() => {
  const img = [...document.images].find(i => i.src.includes('%s'));
  let card = img;
  while (card && !card.querySelector('[role=slider]')) card = card.parentElement;
  if (!card) return null;
  const slider = card.querySelector('[role=slider]'), picture = card.querySelector('img');
  const track = slider.closest('[dir]').getBoundingClientRect();
  return {src: decodeURIComponent(picture.src), loaded: picture.complete && picture.naturalWidth > 0,
          now: slider.getAttribute('aria-valuenow'), max: slider.getAttribute('aria-valuemax'),
          end_x: track.right - 3, mid_y: track.top + track.height / 2};
})()""" % STEP_IMAGES


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(proc: subprocess.Popen) -> None:
    """Stop the process group this test started (its id is ``proc.pid``): TERM, then KILL."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def until(what: str, probe, timeout: float, every: float = 0.5):
    """Call ``probe`` until it returns something true; fail naming ``what`` after ``timeout`` s."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last seen: {last!r})")


@pytest.fixture
def trained() -> tuple[str, str]:
    """A 3-epoch tiny AAE run on digits, logged as a real job logs: (experiment id, run id)."""
    c = tracking.client()
    experiment = tracking.experiment_id(c, "gp")
    run_id = c.create_run(experiment, run_name="browser").info.run_id
    job = {"plugin": "aae", "model": {"latent_dim": 2, "hidden": 16}, "data": {"name": "digits", "limit": 256},
           "trainer": {"epochs": EPOCHS, "batch_size": 64, "threads": 1}}
    assert run({"job": job, "run_id": run_id, "tracking_uri": tracking.tracking_uri()}, LocalSession())["status"] == "finished"
    c.set_terminated(run_id)
    return experiment, run_id


@pytest.fixture
def ui(trained, tmp_path):
    """``mlflow ui`` on 127.0.0.1 against the test's store (after the run is in it): its base URL."""
    port, log = free_port(), open(tmp_path / "mlflow-ui.log", "wb")
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking.tracking_uri(),
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        until("the MLflow UI to answer /health", lambda: _health(base) or proc.poll() is not None, 180)
        assert proc.poll() is None, (tmp_path / "mlflow-ui.log").read_text()[-3000:]
        yield base
    finally:
        stop_group(proc)
        log.close()


def _health(base: str) -> bool:
    try:
        return urllib.request.urlopen(base + "/health", timeout=2).read().strip() == b"OK"
    except OSError:
        return False


class Browser:
    """Headless chromium driven over the DevTools Protocol (one page, one websocket)."""

    def __init__(self, profile: pathlib.Path):
        import websocket

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1400,2000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.ws, self.calls = None, 0
        port = until("chromium's DevTools port", lambda: _devtools_port(profile), 60)
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        url = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)

    def call(self, method: str, **params) -> dict:
        """One DevTools command; events that arrive meanwhile are dropped."""
        self.calls += 1
        self.ws.send(json.dumps({"id": self.calls, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.calls:
                assert "error" not in message, message["error"]
                return message["result"]

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def screenshot(self, path: pathlib.Path) -> None:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        stop_group(self.proc)


def _devtools_port(profile: pathlib.Path) -> int | None:
    """The port chromium wrote to DevToolsActivePort (its first line) once it listens."""
    lines = (profile / "DevToolsActivePort").read_text().splitlines() if (profile / "DevToolsActivePort").exists() else []
    return int(lines[0]) if len(lines) >= 2 else None


@pytest.fixture
def browser(tmp_path):
    b = Browser(tmp_path / "chromium-profile")
    try:
        yield b
    finally:
        b.close()


@pytest.mark.timeout(900)
def test_the_run_page_shows_a_sample_at_once_and_its_slider_reaches_the_last_epoch(trained, ui, browser, tmp_path):
    experiment, run_id = trained
    browser.call("Page.navigate", url=f"{ui}/#/experiments/{experiment}/runs/{run_id}/model-metrics")
    try:
        card = until("the samples card's picture to load", lambda: _loaded(browser.js(SAMPLES_CARD)), 120)
        browser.screenshot(tmp_path / "run-page.png")
        assert "samples+step+0+" in card["src"] and card["now"] == "0"  # what the page opens with
        assert card["max"] == str(EPOCHS)
        browser.js(f"[...document.images].find(i => i.src.includes('{STEP_IMAGES}')).scrollIntoView({{block: 'center'}})")
        card = browser.js(SAMPLES_CARD)
        browser.click(card["end_x"], card["mid_y"])  # the right end of the slider's track
        last = until("the slider's last epoch and its picture",
                     lambda: _loaded(browser.js(SAMPLES_CARD), f"samples+step+{EPOCHS}+"), 60)
        assert last["now"] == str(EPOCHS)
    finally:
        browser.screenshot(tmp_path / "run-page-end.png")


def _loaded(card: dict | None, step: str = "") -> dict | None:
    return card if card and card["loaded"] and step in card["src"] else None
