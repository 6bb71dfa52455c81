"""Documentation examples are the code that runs."""
import re

from tests.helpers import ROOT, gp


def blocks(path, lang):
    return re.findall(rf"```{lang}\n(.*?)```", (ROOT / path).read_text(), re.S)


def test_plugin_guide_shows_the_example_package_verbatim():
    code, toml = blocks("docs/writing-plugins.md", "python")[0], blocks("docs/writing-plugins.md", "toml")[0]
    assert code == (ROOT / "docs/example-plugin/gp_example/ppca.py").read_text()
    assert toml == (ROOT / "docs/example-plugin/pyproject.toml").read_text()


def test_quickstart_python_example_defines_a_sampler():
    namespace = {}
    exec(blocks("docs/quickstart.md", "python")[0], namespace)
    assert callable(namespace["sample_from"])


def test_readme_commands_exist():
    text = (ROOT / "README.md").read_text()
    assert "bash scripts/demo.sh" in text and "bash scripts/test.sh" in text
    assert "bash scripts/test.sh" in (ROOT / ".ci/run").read_text()
    for command in sorted(set(re.findall(r"^    gp (\w+)", text, re.M))):
        assert gp(command, "--help", plugins=False).returncode == 0, command


def test_no_tracked_file_points_outside_the_repository():
    import subprocess

    outside = [("shared" + "/notes").encode(), ("../" + "shared").encode()]  # split: this file is tracked too
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    bad = [f.decode() for f in files if f and (ROOT / f.decode()).is_file()
           and any(s in (ROOT / f.decode()).read_bytes() for s in outside)]
    assert not bad, f"these files point outside the repository: {bad}"


def test_performance_page_dates_every_table_of_latest_figures():
    text = (ROOT / "docs/performance.md").read_text()
    latest = re.search(r"^## Latest figures\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert latest, "docs/performance.md has no 'Latest figures' section"
    parts = re.split(r"^### ", latest.group(1), flags=re.M)
    assert "\n|" not in parts[0], "a table before the first machine-and-date heading"
    tables = 0
    for part in parts[1:]:
        heading = part.splitlines()[0]
        if "\n|" in part:
            tables += 1
            assert re.search(r"\b20\d\d-\d\d-\d\d\b", heading), f"no date in '{heading}'"
            assert re.search(r"H100|H200|A100|GPU|CPU|core|EPYC|Xeon", heading), f"no machine in '{heading}'"
    assert tables >= 5
