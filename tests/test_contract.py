"""The model contract: checked when a plugin loads, before a job trains, and in the workers;
every part of it is declared in gp.model and documented in docs/writing-plugins.md."""
import inspect
import re

import pydantic
import pytest
import torch

from gp import contract, hookspecs
from gp.contract import PluginError
from gp.model import FLAGS, GenerativeModel, ModelConfig
from tests.conftest import tiny_data
from tests.helpers import ROOT, TESTPLUGINS, gp, one_line_error


class Good(GenerativeModel):
    name, family = "good", "other"
    kinds = ("image", "points")

    def __init__(self, config, data):
        super().__init__(config, data)
        self.mean = torch.nn.Parameter(torch.zeros(data.dim))

    def forward(self, batch, update="model"):
        return {"loss": (batch["x"].flatten(1) - self.mean).pow(2).mean()}

    @torch.no_grad()
    def sample(self, n, y=None):
        return self.mean.expand(n, -1).reshape(n, *self.data.shape).clone()


def variant(**attrs):
    """A subclass of Good with these class attributes (methods included)."""
    return type("Variant", (Good,), {"name": "variant", **attrs})


def preflight(cls, data=None):
    contract.preflight(cls, cls.Config(), data or tiny_data("image"))


# ---------------------------------------------------------------- static checks


def test_a_good_class_and_every_builtin_keep_the_contract(registry):
    assert contract.class_problem(Good) is None
    for name, (cls, _) in registry.models.items():
        assert contract.class_problem(cls) is None, name


class NoDefault(ModelConfig):
    width: int = pydantic.Field(description="no default")


@pytest.mark.parametrize("attrs, problem", [
    ({"Config": NoDefault}, "config field 'width' has no default"),
    ({"family": ""}, "'family' must be a non-empty string"),
    ({"tiny": {"depth": 2}}, "tiny sets depth, which Config does not have"),
    ({"kinds": ("audio",)}, "kinds must be a non-empty tuple"),
    ({"cuda_graph": "no"}, "'cuda_graph' must be True or False"),
    ({"conditional": property(lambda self: True)}, "'conditional' must be True or False"),
    ({"log_prob_exact": True}, "log_prob_exact is True but log_prob is not implemented"),
    ({"conditional": True, "sample": lambda self, n: None}, "sample does not take labels"),
    ({"forward": GenerativeModel.forward}, "forward is not implemented"),
])
def test_class_problems_are_one_phrase(attrs, problem):
    assert problem in contract.class_problem(variant(**attrs))


def test_a_field_without_default_fails_the_plugin_at_load_with_one_line():
    out = gp("plugins")
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if line.startswith("no-default "))
    assert "FAILED: model 'no-default': config field 'width' has no default" in row
    assert "PydanticUndefined" not in gp("plugins", "show", "boring").stdout
    error = one_line_error(gp("plugins", "show", "no-default"))
    assert "failed to load: model 'no-default': config field 'width' has no default" in error


# ---------------------------------------------------------------- pre-flight


def test_preflight_passes_a_good_model_and_leaves_the_rng_alone():
    state = torch.random.get_rng_state()
    preflight(Good)
    assert torch.equal(state, torch.random.get_rng_state())


def no_loss_forward(self, batch, update="model"):
    return {"d_loss": Good.forward(self, batch, update)["loss"]}


def raising_init(self, config, data):
    raise ValueError("hidden must be even\nsecond line")


@pytest.mark.parametrize("attrs, message", [
    ({"forward": no_loss_forward}, "plugin 'variant': forward must return 'loss' for update 'model' (it returned keys: d_loss)"),
    ({"forward": lambda self, b, u="model": {"loss": Good.forward(self, b, u)["loss"].detach()}},
     "forward's 'loss' must require grad"),
    ({"forward": lambda self, b, u="model": {"loss": (b["x"].flatten(1) - self.mean).pow(2)}},
     "forward must return scalar tensors for update 'model' (its 'loss' is (4, 64))"),
    ({"forward": lambda self, b, u="model": [Good.forward(self, b, u)["loss"]]}, "forward must return a dict"),
    ({"__init__": raising_init}, "plugin 'variant': __init__ raised ValueError: hidden must be even;"),
    ({"sample": lambda self, n, y=None: torch.zeros(n, 3)}, "sample(2) must return a tensor of shape (2, 1, 8, 8)"),
    ({"updates": property(lambda self: ("critic", "generator"))},
     "configure_optimizers must return one optimizer per update name in phase 'train' (no optimizer for update(s) critic, generator)"),
    ({"updates": property(lambda self: "model")}, "updates must be a non-empty tuple of names"),
])
def test_preflight_names_the_plugin_the_hook_and_the_rule(attrs, message):
    with pytest.raises(PluginError) as info:
        preflight(variant(**attrs))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_preflight_checks_every_update_and_every_phase():
    class Critic(Good):
        name = "wgan"
        updates = property(lambda self: ("critic", "generator") if self.phase == "train" else ("model",))
        phases = lambda self, epochs: ["pre"] + ["train"] * (epochs - 1)  # noqa: E731

        def configure_optimizers(self):
            return {u: torch.optim.SGD(self.parameters(), lr=0.1) for u in self.updates}

        def forward(self, batch, update="model"):
            loss = Good.forward(self, batch, update)["loss"]
            return {"d_loss": loss} if update == "critic" else {"loss": loss}

    with pytest.raises(PluginError, match="plugin 'wgan': forward must return 'loss' for update 'critic' \\(it returned keys: d_loss\\)"):
        contract.preflight(Critic, Critic.Config(), tiny_data("image"), epochs=3)
    contract.preflight(Critic, Critic.Config(), tiny_data("image"), epochs=1)  # only the "pre" phase


def test_an_instance_must_not_set_conditional():
    def init(self, config, data):
        Good.__init__(self, config, data)
        self.conditional = True

    with pytest.raises(PluginError, match="override the is_conditional property"):
        preflight(variant(__init__=init))


def test_every_builtin_passes_the_preflight_at_its_tiny_config(registry):
    for name, (cls, _) in sorted(registry.models.items()):
        data = tiny_data(cls.kinds[0], shape=(1, 8, 8))
        contract.preflight(cls, cls.Config(**cls.tiny), data, epochs=4)


def test_submit_of_a_plugin_without_loss_fails_before_ray_in_one_line():
    error = one_line_error(gp("submit", "plugin=no-loss", "data=digits", "trainer.epochs=1", timeout=120))
    assert "plugin 'no-loss': forward must return 'loss' for update 'critic' (it returned keys: d_loss)" in error


# ---------------------------------------------------------------- in the workers


def test_guard_turns_a_plugin_error_in_training_into_a_named_plugin_error():
    model = Good(Good.Config(), tiny_data("image").spec)
    contract.guard(model)
    batch = {"x": torch.rand(4, 1, 8, 8), "y": torch.zeros(4, dtype=torch.long)}
    assert set(model(batch, "model")) == {"loss"}
    model.mean.data = torch.zeros(3)  # now forward fails inside the plugin's code
    with pytest.raises(PluginError, match="plugin 'good': forward for update 'critic' raised RuntimeError"):
        model(batch, "critic")


def test_guard_leaves_machine_errors_alone(monkeypatch):
    def oom(self, batch, update="model"):
        raise torch.OutOfMemoryError("CUDA out of memory")

    model = variant(forward=oom)(Good.Config(), tiny_data("image").spec)
    contract.guard(model)
    with pytest.raises(torch.OutOfMemoryError):
        model({"x": torch.rand(2, 1, 8, 8), "y": torch.zeros(2)}, "model")


def test_a_plugin_error_in_a_worker_ends_the_fit_without_retries():
    """The Ray Train callback raises a worker's PluginError (a callback's error is not
    retried); the driver's one line is the plugin's message."""
    from ray.train import ControllerError

    from gp.orchestrate import _raise_plugin_error, _worker_error

    _raise_plugin_error([RuntimeError("a node died")])  # other failures: left to Ray Train's retries
    with pytest.raises(PluginError) as info:
        _raise_plugin_error([RuntimeError("collateral"), PluginError("plugin 'x': sample raised KeyError: 'y'")])
    assert _worker_error(ControllerError(info.value)) == "training failed: plugin 'x': sample raised KeyError: 'y'"


# ---------------------------------------------------------------- declared and documented


def guide() -> str:
    return (ROOT / "docs" / "writing-plugins.md").read_text()


def contract_names() -> set[str]:
    """Every hook, every public attribute or method of GenerativeModel and ModelConfig's fields."""
    ours = {k for k, v in vars(GenerativeModel).items() if not k.startswith("_")} - {"device", "T_destination"}
    hooks = {k for k, v in vars(hookspecs).items() if inspect.isfunction(v)}
    return ours | hooks | set(ModelConfig.model_fields) | set(FLAGS)


def test_every_hook_and_contract_attribute_is_documented_in_the_plugin_guide():
    text = guide()
    missing = sorted(n for n in contract_names() if not re.search(rf"`{re.escape(n)}\b", text))
    assert not missing, f"docs/writing-plugins.md does not mention: {missing}"


def test_the_guide_lists_every_family_and_kind():
    from gp.model import FAMILIES, KINDS

    text = guide()
    assert all(f"`{f}`" in text for f in FAMILIES) and all(f'`"{k}"`' in text for k in KINDS)


def test_conditional_has_one_meaning_and_the_aae_is_listed_as_conditional(registry):
    from gp.model import capabilities

    aae = registry.model("aae")
    assert "conditional" in capabilities(aae)
    data = tiny_data("image")
    assert not aae(aae.Config(**aae.tiny), data.spec).is_conditional
    assert aae(aae.Config(**aae.tiny, variant="supervised"), data.spec).is_conditional
    pixelcnn = registry.model("pixelcnn")
    assert not pixelcnn(pixelcnn.Config(), data.spec).is_conditional
    assert all(isinstance(inspect.getattr_static(cls, "conditional"), bool) for cls, _ in registry.models.values())


def test_log_prob_k_names_the_default_importance_samples(registry):
    from gp.eval.likelihood import likelihood

    vae = registry.model("vae")
    model = vae(vae.Config(**vae.tiny), tiny_data("image").spec)
    assert model.log_prob_k == vae.tiny["iwae_k"]
    assert likelihood(model, torch.rand(4, 1, 8, 8))["nll_k"] == model.log_prob_k


SDK = {"gp", "gp.model", "gp.recipes", "gp.errors", "gp.layers", "gp.render", "gp.data.spec", "gp.data.options"}


def test_the_plugin_sdk_is_documented_and_the_builtins_use_nothing_else():
    import ast

    import gp.layers
    from tests.helpers import ROOT

    text = guide()
    public = [n for n, f in vars(gp.layers).items() if callable(f) and getattr(f, "__module__", "") == "gp.layers"
              and not n.startswith("_")]
    assert public and all(f"`{n}(" in text for n in public), public
    assert all(re.search(rf"`{re.escape(m)}[.`]", text) for m in SDK - {"gp"}), "an SDK module is not in the guide"
    used = {node.module for path in (ROOT / "plugins" / "gp_models").glob("*.py")
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "gp"}
    assert used <= SDK, used - SDK
