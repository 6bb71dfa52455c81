"""The per-worker loop, called directly with a world size of one (no Ray)."""
import importlib

import pytest
import torch

from gp.train import checkpoint
from gp.train.loop import run
from gp.train.session import LocalSession
from gp.train.step import Stepper, batches
from tests.conftest import tiny_data
from tests.helpers import TESTPLUGINS


def job(plugin="vae", epochs=2, **model):
    return {"job": {"plugin": plugin, "model": model, "data": {"name": "digits", "limit": 256},
                    "trainer": {"epochs": epochs, "batch_size": 64, "threads": 1}}}


def test_resuming_from_a_checkpoint_equals_training_straight_through():
    straight = LocalSession()
    run(job(epochs=3), straight)
    first = LocalSession()
    run(job(epochs=1), first)
    resumed = LocalSession(resume_from=first.checkpoints[-1])
    assert run(job(epochs=3), resumed)["step"] == 12
    a, b = (checkpoint.load(s.checkpoints[-1]) for s in (straight, resumed))
    assert (a["epoch"], a["step"]) == (b["epoch"], b["step"]) == (3, 12)
    for k in a["model"]:
        assert torch.allclose(a["model"][k], b["model"][k], atol=1e-6), k


def test_checkpoint_holds_model_every_optimizer_step_and_rng():
    s = LocalSession()
    run(job("aae", epochs=1, latent_dim=2, hidden=16), s)
    payload = checkpoint.load(s.checkpoints[-1])
    assert set(payload["optimizers"]) == {"reconstruction", "discriminator", "generator"}
    assert payload["epoch"] == 1 and payload["step"] == 4 and payload["rng"].dtype == torch.uint8


def test_nonfinite_loss_stops_and_keeps_the_last_good_checkpoint(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTPLUGINS))
    importlib.invalidate_caches()
    s = LocalSession()
    summary = run(job("boring", epochs=3, nan_at_step=6), s)  # 4 steps per epoch: NaN in epoch 2
    assert summary["status"] == "nonfinite" and "epoch 2" in summary["message"]
    assert len(s.checkpoints) == 1
    good = checkpoint.load(s.checkpoints[0])
    assert good["epoch"] == 1 and all(torch.isfinite(v).all() for v in good["model"].values())


def test_batches_shard_the_data_without_overlap_and_equally():
    data = tiny_data("image", n=100)
    data.y = torch.arange(100)
    shards = [torch.cat([b["y"] for b in batches(data, r, 2, 20, seed=0, epoch=0)]) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 50
    assert set(shards[0].tolist()).isdisjoint(shards[1].tolist())
    again = torch.cat([b["y"] for b in batches(data, 0, 2, 20, seed=0, epoch=1)])
    assert not torch.equal(again, shards[0])  # reshuffled every epoch


def test_stepper_rejects_a_model_without_an_optimizer_for_an_update(registry):
    cls = registry.model("aae")
    model = cls(cls.Config.model_validate(cls.tiny), tiny_data("image").spec)
    with pytest.raises(ValueError, match="no optimizer for update"):
        Stepper(model, model, {"reconstruction": model.configure_optimizers()["reconstruction"]})


def test_gradient_clipping_bounds_the_update(registry):
    cls = registry.model("vae")
    model = cls(cls.Config.model_validate({**cls.tiny, "lr": 1.0}), tiny_data("image").spec)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    Stepper(model, model, {"model": opt}, grad_clip=0.01)({"x": tiny_data("image").x[:8], "y": None})
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert float((after - before).norm()) <= 0.01 + 1e-6
