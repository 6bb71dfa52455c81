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
