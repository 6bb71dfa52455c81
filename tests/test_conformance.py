"""One conformance suite over every registered model: build from its tiny config, take
one step of every update, sample, round-trip a checkpoint, exercise its capabilities."""
import pytest
import torch

from gp.model import capabilities
from gp.plugins import load_registry
from gp.recipes import recipes_of
from gp.train import checkpoint
from gp.train.step import Stepper
from tests.conftest import tiny_data

REGISTRY = load_registry()
CASES = [(name, kind, shape) for name, (cls, _) in sorted(REGISTRY.models.items()) for kind in cls.kinds
         for shape in ([(1, 8, 8), (3, 16, 16)] if kind == "image" else [(2,)])]


def build(name, kind, shape):
    cls = REGISTRY.model(name)
    data = tiny_data(kind, shape=shape)
    torch.manual_seed(0)
    return cls(cls.Config.model_validate(cls.tiny), data.spec), data


def one_step_per_phase(model, data):
    """Run every update of every phase once; return the losses of the last step."""
    batch = {"x": data.x[:8], "y": data.y[:8]}
    losses = {}
    for phase in dict.fromkeys(model.phases(100)):  # every distinct phase, in order
        model.begin_phase(phase)
        losses.update(Stepper(model, model, model.configure_optimizers())(batch))
    return losses


@pytest.mark.parametrize("name,kind,shape", CASES)
def test_every_update_steps_and_changes_parameters(name, kind, shape):
    model, data = build(name, kind, shape)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    losses = one_step_per_phase(model, data)
    assert losses and all(torch.isfinite(v) for v in losses.values())
    assert all(f"{u}/loss" in losses for u in model.updates)
    changed = [k for k, v in model.state_dict().items() if v.dtype.is_floating_point and not torch.equal(v, before[k])]
    assert changed, "no parameter changed after a step of every update"


@pytest.mark.parametrize("name,kind,shape", CASES)
def test_sample_shape_and_range(name, kind, shape):
    model, data = build(name, kind, shape)
    model.eval()
    y = torch.arange(5) % max(data.spec.num_classes, 1)
    x = model.sample(5, y) if model.is_conditional else model.sample(5)
    assert x.shape == (5, *data.spec.shape)
    assert torch.isfinite(x).all()
    if kind == "image":
        assert x.min() >= 0 and x.max() <= 1


@pytest.mark.parametrize("name,kind,shape", CASES)
def test_checkpoint_round_trip(name, kind, shape, tmp_path):
    model, data = build(name, kind, shape)
    optimizers = model.configure_optimizers()
    path = checkpoint.save(str(tmp_path), checkpoint.state(model, optimizers, epoch=3, step=7))
    payload = checkpoint.load(path)
    again = checkpoint.build_model(payload, REGISTRY)
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k
    fresh, _ = build(name, kind, shape)
    opts = fresh.configure_optimizers()
    assert checkpoint.restore(payload, fresh, opts) == (3, 7)


@pytest.mark.parametrize("name,kind,shape", CASES)
def test_capabilities(name, kind, shape):
    model, data = build(name, kind, shape)
    model.eval()
    x = data.x[:4]
    caps = capabilities(type(model))
    if "encode" in caps:
        z = model.encode(x)
        assert z.shape[0] == 4 and torch.isfinite(z).all()
        if "decode" in caps:
            assert model.decode(z).shape == x.shape
    if "log_prob" in caps:
        lp = model.log_prob(x)
        assert lp.shape == (4,) and torch.isfinite(lp).all()


def test_every_model_has_docstring_config_descriptions_and_tiny_config():
    for name, (cls, _) in REGISTRY.models.items():
        import sys

        assert (sys.modules[cls.__module__].__doc__ or "").strip(), f"{name}: module docstring citing the paper"
        for key, field in cls.Config.model_fields.items():
            assert field.description, f"{name}: model.{key} has no description"
        cls.Config.model_validate(cls.tiny)


RECIPES = [(name, recipe) for name, (cls, _) in sorted(REGISTRY.models.items()) for recipe in sorted(recipes_of(cls))]


@pytest.mark.parametrize("name,recipe", RECIPES)
def test_every_recipe_validates_cites_a_source_for_each_value_and_yields_to_the_command_line(name, recipe):
    from gp.config import parse, validate

    found = recipes_of(REGISTRY.model(name))[recipe]
    assert found.description.strip(), f"{name} recipe={recipe}: no description"
    for key, (_, source) in found.values.items():
        assert isinstance(source, str) and source.strip(), f"{name} recipe={recipe}: {key} has no source"
    job, model = validate(parse([f"plugin={name}", f"recipe={recipe}"]), REGISTRY)
    sections = {"model": model, "data": job.data, "trainer": job.trainer}
    for key, (value, _) in found.values.items():
        section, field = key.split(".", 1)
        assert getattr(sections[section], field) == value, f"{name} recipe={recipe}: {key}"
    job, _ = validate(parse([f"plugin={name}", f"recipe={recipe}", "trainer.epochs=1"]), REGISTRY)
    assert (job.trainer.epochs, job.recipe) == (1, recipe)


def test_every_builtin_model_has_paper_and_cpu_recipes_and_an_unknown_recipe_is_one_line():
    from gp.config import parse, validate
    from gp.errors import GpError

    for name, (cls, _) in REGISTRY.models.items():
        if cls.__module__.startswith("gp_models."):
            assert {"paper", "cpu"} <= set(recipes_of(cls)), f"{name}: a built-in model needs recipes paper and cpu"
    with pytest.raises(GpError) as err:
        validate(parse(["plugin=dcgan", "recipe=papr"]), REGISTRY)
    message = str(err.value)
    assert "\n" not in message and "papr" in message
    assert all(recipe in message for recipe in recipes_of(REGISTRY.model("dcgan")))
