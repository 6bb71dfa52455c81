"""Numerical checks of the autoencoder family: linear AE = PCA, CAE Jacobian penalty,
stacked AE freezing and phases, corruption levels, adaptive conv nets, and short runs."""
import numpy as np
import pytest
import scipy.linalg
import torch

from gp.model import DataSpec
from gp.plugins import load_registry
from gp.train.checkpoint import build_model, load
from gp.train.loop import run
from gp.train.session import LocalSession
from gp.train.step import Stepper
from gp_models.ae import AE
from gp_models.autoencoders import RunningMoments, corrupt
from gp_models.cae import CAE, jacobian_norm_autograd, jacobian_norm_closed
from gp_models.dae import DAE
from gp_models.linear_ae import LinearAE
from gp_models.sae import SAE
from gp_models.scae import SCAE, stochastic_contraction
from gp_models.sdae import SDAE
from tests.conftest import tiny_data

IMAGE = DataSpec((1, 8, 8), 10, "image")



def low_rank_data(n=500, d=10, seed=0):
    """Points (n, d) with a known decaying spectrum in a random basis, mean 5."""
    g = torch.Generator().manual_seed(seed)
    scales = torch.tensor([3.0, 2.0, 1.5, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])[:d]
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g))
    return (torch.randn(n, d, generator=g) * scales) @ q.T + 5.0


def test_linear_ae_learns_the_principal_subspace():
    x, k = low_rank_data(), 3
    torch.manual_seed(0)
    model = LinearAE(LinearAE.Config(latent_dim=k, lr=3e-2), DataSpec((10,), 0, "points"))
    opt = model.configure_optimizers()["model"]
    for _ in range(300):  # full batch: the running mean is the exact data mean
        opt.zero_grad()
        loss = model({"x": x, "y": None})["loss"]
        loss.backward()
        opt.step()
    xc = (x - x.mean(0)).double().numpy()
    eigval, eigvec = np.linalg.eigh(xc.T @ xc / len(xc))  # ascending
    angles = scipy.linalg.subspace_angles(model.basis.double().numpy(), eigvec[:, -k:])
    assert angles.max() < 0.02, angles
    assert loss.item() == pytest.approx(eigval[:-k].sum(), rel=0.01)  # error = discarded variance
    assert torch.allclose(model.mean.mean, x.mean(0), atol=1e-4)


def test_cae_closed_form_penalty_equals_autograd_jacobian():
    torch.manual_seed(0)
    model = CAE(CAE.Config(latent_dim=7), DataSpec((1, 4, 3), 0, "image"))
    x = torch.rand(5, 12)
    closed = jacobian_norm_closed(model, x)
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(model.hidden, x[i])  # (d, D)
        assert closed[i].item() == pytest.approx(jac.pow(2).sum().item(), rel=1e-5)
    assert torch.allclose(jacobian_norm_autograd(model, x), closed, rtol=1e-5)
    # both penalties give the same gradient with respect to the weights
    g_closed = torch.autograd.grad(closed.sum(), model.layer.weight)[0]
    g_auto = torch.autograd.grad(jacobian_norm_autograd(model, x).sum(), model.layer.weight)[0]
    assert torch.allclose(g_closed, g_auto, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("penalty", ["closed", "autograd"])
def test_cae_loss_is_reconstruction_plus_lambda_penalty(penalty):
    torch.manual_seed(0)
    model = CAE(CAE.Config(latent_dim=7, lam=0.5, penalty=penalty), IMAGE)
    x = torch.rand(6, 1, 8, 8)
    out = model({"x": x, "y": None})
    expected = 0.5 * jacobian_norm_closed(model, x.flatten(1)).mean()
    assert out["penalty"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert out["loss"].item() == pytest.approx((out["reconstruction"] + out["penalty"]).item(), rel=1e-6)


def test_scae_penalty_approaches_the_jacobian_norm_for_small_noise():
    torch.manual_seed(0)
    model = SCAE(SCAE.Config(latent_dim=16), DataSpec((1, 4, 3), 0, "image"))
    x = torch.rand(4, 12)
    with torch.no_grad():
        estimate = stochastic_contraction(model, x, sigma=1e-2, copies=4000)
        exact = jacobian_norm_closed(model, x)
    assert torch.allclose(estimate, exact, rtol=0.05), (estimate, exact)


def test_dae_masking_level_is_respected_and_clean_in_eval():
    x = torch.ones(200, 1, 16, 16)
    for level in (0.1, 0.25, 0.5):
        masked = corrupt(x, "masking", level)
        assert (masked == 0).float().mean().item() == pytest.approx(level, abs=0.01)
        assert set(masked.unique().tolist()) <= {0.0, 1.0}  # kept inputs are untouched
    noise = corrupt(x, "gaussian", 0.3) - x
    assert noise.std().item() == pytest.approx(0.3, rel=0.02) and abs(noise.mean().item()) < 0.01
    model = DAE(DAE.Config(latent_dim=2, hidden=8), DataSpec((1, 16, 16), 10, "image"))
    assert (model.corrupt(x) == 0).float().mean().item() == pytest.approx(0.25, abs=0.01)  # default level
    model.eval()
    assert torch.equal(model.corrupt(x), x)


def test_sdae_noise_level_per_layer():
    model = SDAE(SDAE.Config(hidden=[8, 8, 8, 8]), IMAGE)
    h = torch.ones(400, 100)
    for layer, level in enumerate([0.1, 0.2, 0.3, 0.3]):  # the last level repeats
        assert (model.corrupt_layer(h, layer) == 0).float().mean().item() == pytest.approx(level, abs=0.01)


@pytest.mark.parametrize("cls,tied", [(SAE, False), (SAE, True), (SDAE, False)])
def test_pretraining_layer_two_leaves_layer_one_unchanged(cls, tied):
    torch.manual_seed(0)
    model = cls(cls.Config(hidden=[16, 8, 4], tied=tied, lr=1e-2), IMAGE)
    data = tiny_data("image", n=32)
    model.begin_phase("pretrain-2")
    optimizers = model.configure_optimizers()
    in_opt = {id(p) for g in optimizers["pretrain-2"].param_groups for p in g["params"]}
    assert not in_opt & {id(p) for p in model.encoders[0].parameters()}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    step = Stepper(model, model, optimizers)
    losses = [step({"x": data.x, "y": data.y})["pretrain-2/loss"] for _ in range(5)]
    after = model.state_dict()
    frozen = ["encoders.0.weight", "encoders.0.bias", "biases.0", "encoders.2.weight", "classifier.weight"]
    assert all(torch.equal(before[k], after[k]) for k in frozen)
    assert model.encoders[0].weight.grad is None  # detached: no gradient reaches layer 1
    assert not torch.equal(before["encoders.1.weight"], after["encoders.1.weight"])
    assert not torch.equal(before["biases.1"], after["biases.1"])
    assert losses[-1] < losses[0]


def test_every_phase_steps_under_ddp(tmp_path):
    """DDP as gp's session sets it up: every phase steps, and frozen layers stay frozen."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    dist.init_process_group("gloo", store=dist.FileStore(str(tmp_path / "store"), 1), rank=0, world_size=1)
    try:
        torch.manual_seed(0)
        model = SDAE(SDAE.Config(hidden=[16, 8]), IMAGE)
        from gp.model import leaves_parameters_unused

        assert leaves_parameters_unused(model)
        wrapped = DistributedDataParallel(model, find_unused_parameters=leaves_parameters_unused(model))
        data = tiny_data("image", n=16)
        for phase in dict.fromkeys(model.phases(3)):
            model.begin_phase(phase)
            frozen = model.encoders[0].weight.detach().clone()
            step = Stepper(wrapped, model, model.configure_optimizers())
            for _ in range(2):
                assert torch.isfinite(step({"x": data.x, "y": data.y})[f"{phase}/loss"])
            if phase == "pretrain-2":
                assert torch.equal(model.encoders[0].weight, frozen)
    finally:
        dist.destroy_process_group()


def test_stacked_phases_split_epochs():
    model = SAE(SAE.Config(hidden=[8, 8], pretrain_epochs=2), IMAGE)
    assert model.phases(1) == ["finetune"]
    assert model.phases(2) == ["finetune"] * 2
    assert model.phases(3) == ["pretrain-1", "pretrain-2", "finetune"]
    assert model.phases(10) == ["pretrain-1"] * 2 + ["pretrain-2"] * 2 + ["finetune"] * 6
    assert all(len(model.phases(e)) == e for e in range(1, 12))


def test_finetune_ignores_unlabelled_examples():
    torch.manual_seed(0)
    model = SAE(SAE.Config(hidden=[8, 4]), IMAGE)
    x, y = torch.rand(6, 1, 8, 8), torch.tensor([3, -1, 5, -1, -1, 0])
    loss = model({"x": x, "y": y}, "finetune")["loss"]
    logits = model.classifier(model.encode(x))
    expected = torch.nn.functional.cross_entropy(logits[y >= 0], y[y >= 0])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    none = model({"x": x, "y": torch.full((6,), -1)}, "finetune")["loss"]
    assert none.item() == 0 and none.requires_grad
    none.backward()
    assert model.classifier.weight.grad.abs().sum() == 0
    assert model.classify(x).shape == (6,)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 16, 16), (3, 32, 32)])
def test_conv_autoencoder_adapts_to_image_size(shape):
    model = AE(AE.Config(arch="conv", latent_dim=3, channels=4), DataSpec(shape, 10, "image"))
    x = torch.rand(2, *shape)
    z = model.encode(x)
    assert z.shape == (2, 3) and model.decode(z).shape == x.shape
    assert torch.isfinite(model({"x": x, "y": None})["loss"])


def test_running_code_moments_are_exact_averages_then_sample_from_them():
    moments = RunningMoments(3)
    z = torch.randn(3, 50, 3) * torch.tensor([1.0, 2.0, 0.5]) + torch.tensor([4.0, -1.0, 0.0])
    for batch in z:
        moments.update(batch)
    flat = z.flatten(0, 1)
    assert torch.allclose(moments.mean, flat.mean(0), atol=1e-5)
    assert torch.allclose(moments.std(), flat.std(0, unbiased=False), atol=1e-4)
    draws = moments.sample(20000)
    assert torch.allclose(draws.mean(0), moments.mean, atol=0.05)
    assert torch.allclose(draws.std(0), moments.std(), rtol=0.05)


def test_figures_pictures():
    data = tiny_data("image", n=40)
    model = AE(AE.Config(latent_dim=2, hidden=8), data.spec).eval()
    figs = model.figures(data)
    assert set(figs) == {"reconstructions", "interpolation", "latent"}
    assert all(f.dtype == np.uint8 and f.ndim == 3 and f.shape[2] == 3 for f in figs.values())
    points = tiny_data("points", n=40)
    assert "reconstructions" in AE(AE.Config(latent_dim=3, hidden=8), points.spec).eval().figures(points)


RUNS = {
    "ae": ("model", {"latent_dim": 8, "hidden": 64, "lr": 3e-3}),
    "linear-ae": ("model", {"latent_dim": 8, "lr": 1e-2}),
    "dae": ("model", {"latent_dim": 8, "hidden": 64, "lr": 3e-3}),
    "cae": ("model", {"latent_dim": 32, "lr": 3e-3}),
    "scae": ("model", {"latent_dim": 32, "lr": 3e-3}),
    "sae": ("finetune", {"hidden": [64, 32], "lr": 3e-2}),
    "sdae": ("finetune", {"hidden": [64, 32], "lr": 3e-2}),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_short_run_on_digits_lowers_the_loss(name):
    update, overrides = RUNS[name]
    session = LocalSession()
    job = {"plugin": name, "model": overrides, "data": {"name": "digits"},
           "trainer": {"epochs": 3, "batch_size": 50, "threads": 1, "samples": 16}}
    assert run({"job": job}, session)["status"] == "finished"
    trained = build_model(load(session.checkpoints[-1]), load_registry())
    cls = type(trained)
    torch.manual_seed(1)
    fresh = cls(cls.Config.model_validate(overrides), trained.data).eval()
    from sklearn.datasets import load_digits

    d = load_digits()
    batch = {"x": torch.tensor(d.images[-200:], dtype=torch.float32).unsqueeze(1) / 16,
             "y": torch.tensor(d.target[-200:])}
    with torch.no_grad():
        before, after = fresh(batch, update)["loss"].item(), trained(batch, update)["loss"].item()
    assert after < 0.8 * before, (before, after)
