"""CUDA-graph capture of the whole training step (gp.train.graph).

On CPU: the fallback is exact (same losses and weights as the eager Stepper) and
checkpoints keep the optimizers' own options. With a GPU (``-m gpu``): the captured step
trains like the eager one, and steps it cannot capture run eagerly with a reason.
"""
import copy

import pytest
import torch
from torch import nn

from gp.config import TrainerConfig
from gp.model import DataSpec, GenerativeModel, ModelConfig
from gp.train import checkpoint
from gp.train.graph import GraphStepper, build_stepper, fuse, make_capturable, uncapturable
from gp.train.loop import run
from gp.train.session import LocalSession
from gp.train.step import Stepper
from tests.conftest import tiny_data

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def build(registry, name, shape=(1, 8, 8), device="cpu", **over):
    cls = registry.model(name)
    torch.manual_seed(0)
    model = cls(cls.Config.model_validate({**cls.tiny, **over}), DataSpec(shape, 10, "image"))
    return model.to(device)


def train(stepper_cls, model, data, steps: int, batch: int = 16, **kw):
    """Losses (steps, K) and the stepper after ``steps`` steps on fixed batches.

    The optimizers are fused as the platform fuses them, for either stepper."""
    opts = model.configure_optimizers()
    for opt in opts.values():
        fuse(opt)
    stepper = stepper_cls(model, model, opts, **kw)
    torch.manual_seed(1)
    if data.x.is_cuda:
        torch.cuda.manual_seed(1)
    rows = []
    for i in range(steps):
        j = i * batch % (len(data.x) - batch + 1)
        out = stepper({"x": data.x[j : j + batch], "y": data.y[j : j + batch]})
        rows.append(torch.stack(list(out.values())))
    return torch.stack(rows).cpu(), stepper


def weights(model):
    return torch.cat([p.detach().flatten().cpu() for p in model.parameters()])


def test_build_stepper_stays_eager_off_cuda_and_when_turned_off(registry):
    model = build(registry, "vae")
    for mode, reason in (("auto", "the device is cpu"), (True, "the device is cpu"), (False, "cuda_graph=false")):
        stepper = build_stepper(model, model, model.configure_optimizers(), TrainerConfig(cuda_graph=mode), "cpu")
        assert not stepper.captured and reason in stepper.reason


def test_adam_uses_its_fused_kernel_and_trains_like_the_unfused_one(registry):
    model = build(registry, "vae")
    stepper = build_stepper(model, model, model.configure_optimizers(), TrainerConfig(), "cpu")
    assert stepper.optimizers["model"].param_groups[0]["fused"]
    data = tiny_data("image", n=64)
    plain = copy.deepcopy(model)
    opt = torch.optim.Adam(plain.parameters(), lr=plain.config.lr)
    torch.manual_seed(0)
    for _ in range(3):
        stepper({"x": data.x[:16], "y": data.y[:16]})
    torch.manual_seed(0)
    for _ in range(3):
        Stepper(plain, plain, {"model": opt})({"x": data.x[:16], "y": data.y[:16]})
    assert torch.allclose(weights(model), weights(plain), atol=1e-5)
    assert not torch.equal(weights(model), weights(build(registry, "vae")))  # it trained


@pytest.mark.parametrize("name", ["dcgan", "vae", "aae"])
def test_fallback_on_cpu_equals_the_eager_stepper(registry, name):
    data = tiny_data("image", n=64)
    eager = build(registry, name)
    graphed = copy.deepcopy(eager)
    a, _ = train(Stepper, eager, data, steps=6)
    b, stepper = train(GraphStepper, graphed, data, steps=6)
    assert not stepper.captured and "cpu" in stepper.reason
    assert torch.equal(a, b)
    assert torch.equal(weights(eager), weights(graphed))


def test_loop_with_cuda_graph_on_cpu_trains_exactly_like_without():
    def job(mode):
        return {"job": {"plugin": "dcgan", "model": {"latent_dim": 4, "g_width": 4, "d_width": 4},
                        "data": {"name": "digits", "limit": 128},
                        "trainer": {"epochs": 1, "batch_size": 32, "threads": 1, "cuda_graph": mode}}}

    assert run(job(True), LocalSession())["digest"] == run(job(False), LocalSession())["digest"]


def test_config_takes_auto_true_or_false_only():
    assert TrainerConfig().cuda_graph == "auto"
    assert TrainerConfig(cuda_graph=False).cuda_graph is False
    with pytest.raises(ValueError):
        TrainerConfig(cuda_graph="sometimes")


def test_checkpoints_keep_the_optimizers_own_options(registry):
    model = build(registry, "gan")
    opt = model.configure_optimizers()["generator"]
    make_capturable(opt)
    opt.param_groups[0]["fused"] = True  # as fuse() does on a GPU
    assert opt.param_groups[0]["capturable"]
    saved = checkpoint.state(model, {"generator": opt}, 1, 1)["optimizers"]["generator"]["param_groups"][0]
    assert saved["capturable"] is False and saved["fused"] is None
    assert opt.param_groups[0]["capturable"]  # the live optimizer is unchanged
    uncapturable(opt)
    assert opt.param_groups[0]["capturable"] is False


class Syncing(GenerativeModel):
    """Reads its loss back to the host inside forward (cannot be captured)."""

    name = "syncing"

    def __init__(self):
        super().__init__(ModelConfig(), DataSpec((2,), 0, "points"))
        self.net = nn.Linear(2, 1)

    def forward(self, batch, update="model"):
        loss = self.net(batch["x"]).pow(2).mean()
        if loss.item() > 1e9:
            loss = loss * 0
        return {"loss": loss}


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("name,over", [("vae", {"hidden": 64, "lr": 3e-3}), ("dcgan", {"g_width": 16, "d_width": 16})])
def test_captured_step_trains_like_the_eager_step(registry, name, over):
    torch.backends.cuda.matmul.allow_tf32 = False
    data = tiny_data("image", n=512, shape=(1, 16, 16))
    data.x, data.y = data.x.cuda(), data.y.cuda()
    eager = build(registry, name, (1, 16, 16), "cuda", **over)
    graphed = copy.deepcopy(eager)
    a, _ = train(Stepper, eager, data, steps=20, batch=64)
    b, stepper = train(GraphStepper, graphed, data, steps=20, batch=64)
    assert stepper.captured, stepper.reason
    assert torch.allclose(a, b, rtol=2e-2, atol=1e-3), (a - b).abs().max()
    assert (weights(graphed) - weights(eager)).abs().max() < 0.05  # replays updated the weights alike


@pytest.mark.gpu
@cuda
def test_a_step_that_syncs_runs_eagerly_with_the_reason():
    torch.manual_seed(0)
    eager = Syncing().cuda()
    graphed = copy.deepcopy(eager)
    data = tiny_data("points", n=64)
    data.x, data.y = data.x.cuda(), data.y.cuda()
    a, _ = train(Stepper, eager, data, steps=6)
    b, stepper = train(GraphStepper, graphed, data, steps=6)
    assert not stepper.captured and "synchronises" in stepper.reason
    assert torch.allclose(a, b, rtol=1e-5) and torch.allclose(weights(eager), weights(graphed), atol=1e-6)


@pytest.mark.gpu
@cuda
def test_a_batch_of_another_shape_runs_eagerly_and_capture_stays(registry):
    model = build(registry, "vae", device="cuda")
    stepper = GraphStepper(model, model, model.configure_optimizers())
    x = torch.rand(64, 1, 8, 8, device="cuda")
    for _ in range(5):
        stepper({"x": x[:32], "y": torch.zeros(32, dtype=torch.long, device="cuda")})
    assert stepper.captured, stepper.reason
    odd = stepper({"x": x[:10], "y": torch.zeros(10, dtype=torch.long, device="cuda")})
    assert torch.isfinite(odd["model/loss"]) and stepper.captured
