"""Shipping a plugin with a remote job, and refusing one that differs from the submitter's."""
import json
import os
import subprocess
import sys

import pytest

from gp.errors import GpError
from gp.plugins import Origin
from gp.shipping import check_plugin, plugin_identity, ship, tree_hash
from tests.cluster.conftest import PLUGIN
from tests.helpers import ROOT

SLEEPY = Origin("sleepy", "gp-sleepy", "0.3")


@pytest.fixture
def sleepy_installed(monkeypatch):
    """The test plugin installed here (on sys.path with its dist-info), as on a submitting machine."""
    monkeypatch.syspath_prepend(str(PLUGIN))
    import importlib

    importlib.invalidate_caches()
    return plugin_identity(SLEEPY)


def test_a_plugin_is_identified_by_distribution_version_and_file_hash(sleepy_installed):
    assert sleepy_installed["dist"] == "gp-sleepy" and sleepy_installed["version"] == "0.3"
    assert sleepy_installed["hash"] == tree_hash(PLUGIN / "gp_sleepy.py") and len(sleepy_installed["hash"]) == 64


def test_a_shipped_plugin_is_discovered_where_it_was_never_installed(sleepy_installed, tmp_path):
    assert ship(sleepy_installed, tmp_path)
    code = ("import json; from gp.plugins import load_registry; from gp.shipping import plugin_identity; "
            "r = load_registry(); o = r.origin('sleepy'); i = plugin_identity(o); "
            "print(json.dumps([o.dist, o.version, i['hash'], i['root']]))")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    dist, version, digest, root = json.loads(out.stdout)
    assert (dist, version, digest) == ("gp-sleepy", "0.3", sleepy_installed["hash"])
    assert root.startswith(str(tmp_path))
    without = subprocess.run([sys.executable, "-c", "from gp.plugins import load_registry; "
                              "print('sleepy' in load_registry().models)"], capture_output=True, text=True, cwd=ROOT)
    assert without.stdout.strip() == "False"  # so the copy really came from the job's folder


def test_builtin_plugins_come_with_gp_and_are_not_shipped(registry, tmp_path):
    identity = plugin_identity(registry.origin("aae"))
    assert identity["dist"] == "gp" and identity["root"].endswith("gp_models")
    assert not ship(identity, tmp_path) and not list(tmp_path.iterdir())


def test_a_plugin_that_differs_from_the_submitters_is_refused(registry):
    here = plugin_identity(registry.origin("aae"))
    check_plugin(here, registry.origin("aae"))
    with pytest.raises(GpError, match=r"plugin aae here \(gp 0\.1\.0, hash \w{12}\) differs from the submitter's"):
        check_plugin({**here, "hash": "0" * 64}, registry.origin("aae"))


def test_the_hash_changes_with_any_file_of_the_plugin(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "model.py").write_text("A = 1\n")
    before = tree_hash(pkg)
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"\0")
    assert tree_hash(pkg) == before  # compiled files do not count
    (pkg / "model.py").write_text("A = 2\n")
    assert tree_hash(pkg) != before
