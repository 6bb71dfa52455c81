"""Repository rules that keep the platform importable."""
import re
import subprocess
import sys

from tests.helpers import ROOT


def test_platform_is_a_source_folder_not_a_package():
    assert not (ROOT / "platform" / "__init__.py").exists()
    out = subprocess.run([sys.executable, "-c", "import platform; print(platform.system())"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip(), out.stderr


def test_core_never_imports_the_builtin_plugins():
    offenders = [p for p in (ROOT / "platform").rglob("*.py") if re.search(r"\bgp_models\b", p.read_text())]
    assert offenders == []


def test_builtin_plugins_are_entry_points_of_the_gp_group():
    import importlib.metadata as md

    names = {ep.name for ep in md.entry_points(group="gp")}
    assert {"aae", "vae", "gan", "gp-datasets"} <= names


def test_importing_gp_is_light():
    code = "import sys, gp, gp.cli; print(sorted(m for m in ('torch', 'ray', 'mlflow') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
