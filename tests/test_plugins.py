"""Plugin discovery: fault tolerant, restrictable, listed with origins and errors."""
import pytest

from gp.plugins import load_registry
from tests.helpers import TESTPLUGINS, gp


@pytest.fixture
def with_test_plugins(monkeypatch):
    import importlib

    monkeypatch.syspath_prepend(str(TESTPLUGINS))
    importlib.invalidate_caches()


def test_broken_plugins_are_recorded_and_the_rest_still_load(with_test_plugins):
    reg = load_registry()
    assert {"aae", "vae", "gan", "boring"} <= set(reg.models)
    assert "ImportError: this plugin is broken on purpose" in reg.failures["broken-import"][1]
    assert "PluginValidationError" in reg.failures["bad-hook"][1]
    assert reg.origin("boring").dist == "gp-testplugins" and reg.origin("boring").version == "0.1"


def test_env_variable_restricts_loaded_plugins(with_test_plugins, monkeypatch):
    monkeypatch.setenv("GP_LOAD_PLUGINS", "boring,gp-datasets")
    reg = load_registry()
    assert set(reg.models) == {"boring"}
    assert reg.failures == {}
    assert "digits" in reg.datasets


def test_gp_plugins_lists_models_capabilities_and_failures():
    out = gp("plugins")
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line for line in out.stdout.splitlines() if line.strip()}
    assert "encode,decode,log_prob" in rows["vae"] and "gp-testplugins" in rows["boring"]
    assert "FAILED: ImportError" in rows["broken-import"]


def test_gp_plugins_show_prints_config_with_defaults_and_descriptions():
    out = gp("plugins", "show", "aae")
    assert out.returncode == 0, out.stderr
    assert "model.latent_dim" in out.stdout and "size of the code z" in out.stdout
    assert "Makhzani" in out.stdout


def test_unknown_plugin_in_show_is_one_line():
    from tests.helpers import one_line_error

    assert "did you mean aae" in one_line_error(gp("plugins", "show", "aaf"))


def test_plugin_listing_is_cached_without_importing_torch_and_invalidated_on_change(tmp_path):
    import os
    import shutil
    import subprocess
    import sys

    site = tmp_path / "site"
    shutil.copytree(TESTPLUGINS, site)
    env = dict(os.environ, PYTHONPATH=str(site))
    code = "import sys; from gp.commands import plugins_table; t = plugins_table(); print('torch' in sys.modules, 'boring2' in t)"
    run = lambda: subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.split()  # noqa: E731
    assert run() == ["True", "False"]  # computed
    assert run() == ["False", "False"]  # cached
    (site / "gp_testplugins.py").write_text((site / "gp_testplugins.py").read_text().replace('"boring"', '"boring2"'))
    assert run() == ["True", "True"]  # source changed: recomputed
