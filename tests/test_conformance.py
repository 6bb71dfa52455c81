"""One conformance suite over every registered model: build from its tiny config, take
one step of every update, sample, draw its figures, round-trip a checkpoint, exercise its
capabilities; image models on grey 8x8 and 28x28, and RGB 32x32 and 64x64 images."""
import numpy as np
import pytest
import torch

from gp.model import capabilities
from gp.plugins import load_registry
from gp.recipes import recipes_of
from gp.train import checkpoint
from gp.train.step import Stepper
from tests.conftest import tiny_data

REGISTRY = load_registry()
IMAGE_SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 64, 64)]  # digits, (Fashion-)MNIST, CIFAR-10, 64x64 photos
LARGE = (3, 64, 64)
CASES = [(name, kind, shape) for name, (cls, _) in sorted(REGISTRY.models.items()) for kind in cls.kinds
         for shape in (IMAGE_SHAPES if kind == "image" else [(2,)])]
IDS = [f"{name}-{'x'.join(map(str, shape))}" for name, _, shape in CASES]


def pixel_by_pixel(model, shape) -> bool:
    """An autoregressive model on RGB images: its sampler makes a network call per sub-pixel
    (3,072 per 32x32 image, 12,288 at 64x64), seconds on a CPU, so the suite samples only the
    last row of those images (the same code on fewer pixels; tests/models/ sample whole ones)."""
    return model.family == "autoregressive" and shape[0] * shape[1] * shape[2] > 28 * 28


def build(name, kind, shape):
    cls = REGISTRY.model(name)
    data = tiny_data(kind, shape=shape)
    torch.manual_seed(0)
    return cls(cls.Config.model_validate(cls.tiny), data.spec), data


def one_step_per_phase(model, data, n: int = 8):
    """Run every update of every phase once on ``n`` examples; return the losses of the last step."""
    batch = {"x": data.x[:n], "y": data.y[:n]}
    losses = {}
    for phase in dict.fromkeys(model.phases(100)):  # every distinct phase, in order
        model.begin_phase(phase)
        losses.update(Stepper(model, model, model.configure_optimizers())(batch))
    return losses


@pytest.mark.parametrize("name,kind,shape", CASES, ids=IDS)
def test_every_update_steps_and_changes_parameters(name, kind, shape):
    model, data = build(name, kind, shape)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    losses = one_step_per_phase(model, data, 4 if shape == LARGE else 8)  # 4: a 256-way softmax per sub-pixel is big
    assert losses and all(torch.isfinite(v) for v in losses.values())
    assert all(f"{u}/loss" in losses for u in model.updates)
    changed = [k for k, v in model.state_dict().items() if v.dtype.is_floating_point and not torch.equal(v, before[k])]
    assert changed, "no parameter changed after a step of every update"


@pytest.mark.parametrize("name,kind,shape", CASES, ids=IDS)
def test_sample_shape_and_range(name, kind, shape):
    model, data = build(name, kind, shape)
    model.eval()
    y = torch.arange(5) % max(data.spec.num_classes, 1)
    if pixel_by_pixel(model, shape):
        x = model.complete(data.x[:5], y, start=shape[1] * shape[2] - shape[2])  # (5, C, H, W), last row drawn
    else:
        x = model.sample(5, y) if model.is_conditional else model.sample(5)
    assert x.shape == (5, *data.spec.shape)
    assert torch.isfinite(x).all()
    if kind == "image":
        assert x.min() >= 0 and x.max() <= 1


@pytest.mark.parametrize("name,kind,shape", CASES, ids=IDS)
def test_figures_are_rgb_pictures(name, kind, shape):
    model, data = build(name, kind, shape)
    if not callable(model.figures) or pixel_by_pixel(model, shape):  # completions: 6,144 calls at 32x32
        pytest.skip("no figures" if not callable(model.figures) else "pixel-by-pixel completions of RGB images")
    for key, img in model.eval().figures(data).items():
        assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, key
        if kind == "image":  # a grid of tiles at least the data's size
            assert min(img.shape[:2]) >= min(shape[1:]), key


@pytest.mark.parametrize("name,kind,shape", CASES, ids=IDS)
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
    assert checkpoint.restore(payload, fresh, opts) == (3, 7, 0)


@pytest.mark.parametrize("name,kind,shape", CASES, ids=IDS)
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
