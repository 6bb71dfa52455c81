"""Test helpers: running the gp CLI in a subprocess with the test plugins visible."""
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TESTPLUGINS = ROOT / "tests" / "fixtures" / "testplugins"
GP = str(pathlib.Path(sys.executable).parent / "gp")


INHERITED_NOT = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "RAY_ADDRESS")


def gp(*args, env=None, timeout=600, plugins=True) -> subprocess.CompletedProcess:
    """Run ``gp ARGS`` and capture its output; test plugins on PYTHONPATH if ``plugins``.
    Where to track and train comes from ``env`` only: in-process code of earlier tests can
    leave MLFLOW_TRACKING_URI (``mlflow.set_tracking_uri`` exports it) or RAY_ADDRESS
    (``ray.init`` exports it) in this process's environment."""
    full = {k: v for k, v in os.environ.items() if k not in INHERITED_NOT}
    full.update(env or {})
    if plugins:
        full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTPLUGINS), full.get("PYTHONPATH")]))
    return subprocess.run([GP, *args], capture_output=True, text=True, env=full, timeout=timeout, cwd=ROOT)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The single ``error:`` line a failed gp command printed (asserts there is no traceback)."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]
