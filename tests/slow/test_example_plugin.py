"""The documented example plugin installs with pip and trains through `gp submit`."""
import subprocess
import sys

import pytest

from gp import tracking
from tests.helpers import ROOT, gp

pytestmark = pytest.mark.slow


def test_example_plugin_installs_and_trains(tmp_path):
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target)]
    subprocess.run([*pip, str(ROOT / "docs" / "example-plugin")], check=True, capture_output=True)
    env = {"PYTHONPATH": str(target)}
    listing = gp("plugins", env=env, plugins=False)
    assert "gp-example-ppca" in listing.stdout
    proc = gp("submit", "plugin=ppca", "data=digits", "trainer.epochs=2", env=env, plugins=False)
    assert proc.returncode == 0, proc.stderr
    c = tracking.client()
    run = c.search_runs([c.get_experiment_by_name("gp").experiment_id])[0]
    assert run.info.status == "FINISHED" and run.data.tags["gp.plugin.dist"] == "gp-example-ppca"
    nll = [m.value for m in c.get_metric_history(run.info.run_id, "model/nll")]
    assert nll[-1] < nll[0]
