"""Recipes (recipe=NAME): under the user's overrides, listed by `gp plugins show`, recorded on the run."""
import pytest

from gp.config import parse, validate
from gp.errors import GpError
from gp.recipes import Recipe

DEMO = {"demo": Recipe("a test recipe", {
    "trainer.epochs": (7, "chosen for the test"),
    "model.k": (2, "Algorithm 1 allows k > 1"),
    "data.name": ("toy2d", "the 25-Gaussian grid"),
    "data.kind": ("ring", "the ring of 8"),
})}


@pytest.fixture
def gan(monkeypatch, registry):
    cls = registry.model("gan")
    monkeypatch.setattr(cls, "recipes", DEMO, raising=False)
    return cls


def test_a_recipe_sits_under_the_command_line(gan, registry):
    job, model = validate(parse(["plugin=gan", "recipe=demo", "trainer.epochs=2"]), registry)
    assert (job.trainer.epochs, model.k, job.data.name, job.data.kind, job.recipe) == (2, 2, "toy2d", "ring", "demo")


def test_another_dataset_on_the_command_line_drops_the_recipes_data_keys(gan, registry):
    job, _ = validate(parse(["plugin=gan", "recipe=demo", "data=digits"]), registry)
    assert job.data.name == "digits" and "kind" not in (job.data.model_extra or {})


def test_an_unknown_recipe_is_one_line_listing_the_plugins_recipes(gan, registry):
    with pytest.raises(GpError, match=r"plugin gan has no recipe 'paperr' \(its recipes: demo\)"):
        validate(parse(["plugin=gan", "recipe=paperr"]), registry)


def test_plugins_show_lists_each_recipe_value_with_its_source(gan):
    from gp.commands import plugin_config

    text = plugin_config("gan")
    assert "recipe=demo: a test recipe" in text
    line = next(l for l in text.splitlines() if l.startswith("model.k") and "Algorithm 1" in l)
    assert line.split()[:2] == ["model.k", "2"]


def test_the_run_records_its_recipe(gan, registry):
    from gp.plugins import Origin
    from gp.tracking import run_spec

    job, model = validate(parse(["plugin=gan", "recipe=demo"]), registry)
    spec = run_spec(job, Origin("gan"))
    assert spec["tags"]["gp.recipe"] == "demo" and spec["params"]["recipe"] == "demo"
    assert spec["tags"]["mlflow.runName"] == "gan-toy2d-demo"


def test_the_example_plugins_recipe_validates(registry):
    import importlib.util
    import types

    from gp.plugins import Origin, _collect, load_registry
    from tests.helpers import ROOT

    spec = importlib.util.spec_from_file_location("ppca_doc", ROOT / "docs/example-plugin/gp_example/ppca.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    reg = load_registry()
    _collect(None, types.SimpleNamespace(register_models=module.register_models), Origin("ppca"), reg)
    job, model = validate(parse(["plugin=ppca", "recipe=digits"]), reg)
    assert (job.data.name, model.latent_dim, job.trainer.epochs, job.recipe) == ("digits", 8, 20, "digits")
