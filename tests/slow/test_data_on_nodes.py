"""A dataset that the driver's machine has and a worker's does not: `gp submit` fails in one
line naming the worker's node (hostname and IP). The worker is simulated by a dataset
plugin whose files are "missing" only inside Ray worker processes."""
import socket
import textwrap

import pytest

from tests.helpers import gp, one_line_error

pytestmark = pytest.mark.slow

PLUGIN = '''
import os
import sys

from gp import hookimpl
from gp.data.builtin import digits
from gp.data.options import DataOptions
from gp.errors import GpError


def here_only(cfg, split):
    if os.path.basename(sys.argv[0]) == "default_worker.py":  # a Ray worker process: "another node"
        raise GpError("dataset here-only: no folder /data/here-only; fix data.root")
    return digits(cfg, split)


@hookimpl
def register_datasets(register):
    register("here-only", here_only, "digits on the driver's machine only", DataOptions)
'''


def test_a_dataset_missing_on_a_worker_node_is_one_line_naming_the_node(tmp_path):
    site = tmp_path / "site"
    (site / "gp_here_only-0.1.dist-info").mkdir(parents=True)
    (site / "gp_here_only.py").write_text(textwrap.dedent(PLUGIN))
    (site / "gp_here_only-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: gp-here-only\nVersion: 0.1\n")
    (site / "gp_here_only-0.1.dist-info" / "entry_points.txt").write_text("[gp]\nhere-only = gp_here_only\n")
    proc = gp("submit", "plugin=vae", "data=here-only", "trainer.epochs=1",  # max_failures: 2 by default
              env={"GP_HOME": str(tmp_path / "home"), "PYTHONPATH": str(site)})
    line = one_line_error(proc)
    assert line.startswith(f"error: training failed: on node {socket.gethostname()} (")
    assert line.endswith("): dataset here-only: no folder /data/here-only; fix data.root")
    assert "restarting" not in proc.stdout + proc.stderr  # a restarted worker would meet it again: no retry
