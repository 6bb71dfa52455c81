"""Numerical tests of the VAE/GAN family: vae, cvae, aae (all variants), gan, dcgan, lsgan.

Bounds and losses are checked against closed forms and hand-computed values; the update
schedule against counted optimizer steps; each new model trains a few steps on digits.
"""
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.distributions import MultivariateNormal, Normal, kl_divergence

from gp.model import DataSpec
from gp.plugins import load_registry
from gp.train.loop import run
from gp.train.session import LocalSession
from gp.train.step import Stepper
from gp_models.convnets import ConvDiscriminator, ConvGenerator, start_size
from gp_models.vae import kl_normal, manifold_codes
from tests.conftest import tiny_data

REGISTRY = load_registry()
DIGITS = DataSpec((1, 8, 8), 10, "image")



def build(name, spec=DIGITS, **overrides):
    cls = REGISTRY.model(name)
    torch.manual_seed(0)
    return cls(cls.Config.model_validate({**cls.tiny, **overrides}), spec)


def flat_params(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def is_picture(img):
    return isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3


# ---------------------------------------------------------------- VAE


def test_closed_form_kl_matches_monte_carlo():
    torch.manual_seed(0)
    mu, logvar = torch.randn(4, 3), torch.randn(4, 3)
    q, p = Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)
    z = q.sample((200_000,))  # (S, 4, 3)
    log_ratio = (q.log_prob(z) - p.log_prob(z)).sum(-1)  # (S, 4)
    mc, se = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(len(z))
    assert ((mc - kl_normal(mu, logvar)).abs() < 5 * se + 1e-3).all(), (mc, kl_normal(mu, logvar))
    assert torch.allclose(kl_normal(mu, logvar), kl_divergence(q, p).sum(-1), atol=1e-5)


def digits_batch(n=64):
    from sklearn.datasets import load_digits

    return torch.tensor(load_digits().images[:n], dtype=torch.float32).unsqueeze(1) / 16.0  # (n, 1, 8, 8)


def test_iwae_bound_does_not_decrease_with_k():
    model, x = build("vae", latent_dim=4, hidden=32), digits_batch()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):  # a sharper posterior than at init: gaps of ~0.3 and ~0.1 nats, noise ~0.01
        opt.zero_grad()
        model({"x": x, "y": None})["loss"].backward()
        opt.step()
    model.eval()
    torch.manual_seed(1)
    bounds = [torch.stack([model.log_prob(x, k=k).mean() for _ in range(20)]).mean().item() for k in (1, 5, 50)]
    assert bounds[0] < bounds[1] < bounds[2], bounds


def test_iwae_with_one_sample_is_the_elbo_on_average():
    model, x = build("vae", latent_dim=4, hidden=32).eval(), digits_batch()
    torch.manual_seed(2)
    iwae1 = torch.stack([model.log_prob(x, k=1) for _ in range(400)])  # (R, B)
    elbo = torch.stack([-model({"x": x, "y": None})["loss"] for _ in range(400)]).detach()  # (R,) batch means
    se = math.hypot(iwae1.mean(1).std().item(), elbo.std().item()) / math.sqrt(400)
    assert abs(iwae1.mean().item() - elbo.mean().item()) < 5 * se + 1e-3


def linear_gaussian_vae(w):
    """A points VAE whose decoder is x = w z (ReLU kept linear by a large bias) and q(z|x) = p(z)."""
    model = build("vae", DataSpec((2,), 0, "points"), latent_dim=1, hidden=2).eval()
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.zero_()  # mean 0, log-variance 0: q(z|x) = N(0, 1) = p(z)
        first, last = model.decoder[0], model.decoder[2]
        first.weight.copy_(torch.tensor([[1.0], [0.0]])), first.bias.copy_(torch.tensor([100.0, 0.0]))
        last.weight.copy_(torch.stack([w, torch.zeros(2)], 1)), last.bias.copy_(-100.0 * w)
    return model


def test_iwae_converges_to_the_exact_log_likelihood_of_a_linear_gaussian_model():
    w = torch.tensor([1.5, -0.5])
    model = linear_gaussian_vae(w)
    torch.manual_seed(3)
    x = w * torch.randn(32, 1) + torch.randn(32, 2)  # (32, 2) from the model
    exact = MultivariateNormal(torch.zeros(2), torch.outer(w, w) + torch.eye(2)).log_prob(x)  # (32,)
    elbo = -math.log(2 * math.pi) - 0.5 * (x.pow(2).sum(1) + w.pow(2).sum())  # closed form, q = prior
    draws = model.log_prob(x.repeat(20_000, 1), k=1).view(20_000, 32)  # (R, B) single-sample bounds
    se = draws.std(0) / math.sqrt(len(draws))
    assert ((draws.mean(0) - elbo).abs() < 5 * se + 1e-3).all()
    big = model.log_prob(x, k=20_000)
    assert (big - exact).abs().mean() < 0.02 and (big < exact + 0.05).all()
    assert (elbo < exact - 0.05).mean(dtype=torch.float32) > 0.9  # the gap the large k closes


def test_vae_figures_and_manifold_grid():
    data = tiny_data("image", n=64)
    model = build("vae", data.spec, latent_dim=2).eval()
    figs = model.figures(data)
    assert set(figs) == {"reconstructions", "latent_manifold", "latent_scatter"} and all(map(is_picture, figs.values()))
    assert set(build("vae", data.spec, latent_dim=3).figures(data)) == {"reconstructions"}
    z = manifold_codes(15)
    u = Normal(0.0, 1.0).cdf(z)
    assert z.shape == (225, 2) and torch.allclose(u.min(), torch.tensor(0.05)) and torch.allclose(u.max(), torch.tensor(0.95))
    assert z[0, 1] > z[-1, 1] and z[0, 0] < z[14, 0]  # z2 decreases down the rows, z1 increases along them


# ---------------------------------------------------------------- GAN family


@pytest.mark.parametrize("name", ["gan", "dcgan", "lsgan"])
def test_k_discriminator_steps_then_one_generator_step(name):
    data = tiny_data("image")
    model = build(name, data.spec, k=3)
    assert model.updates == ("discriminator",) * 3 + ("generator",)
    optimizers, log = model.configure_optimizers(), []
    for update, opt in optimizers.items():
        def counted(*args, _step=opt.step, _update=update, **kwargs):
            d0, g0 = flat_params(model.discriminator), flat_params(model.generator)
            out = _step(*args, **kwargs)
            log.append((_update, not torch.equal(d0, flat_params(model.discriminator)),
                        not torch.equal(g0, flat_params(model.generator))))
            return out
        opt.step = counted
    Stepper(model, model, optimizers)({"x": data.x[:8], "y": data.y[:8]})
    assert log == [("discriminator", True, False)] * 3 + [("generator", False, True)]


class FixedScore(nn.Module):
    """A stand-in discriminator: 2 * mean(x) - 0.5, so all-ones data scores 1.5 and all-zeros -0.5."""

    def forward(self, x):
        return 2 * x.flatten(1).mean(1, keepdim=True) - 0.5


def losses_on_known_scores(model):
    """(discriminator loss, generator loss) with real scores 1.5 and fake scores -0.5."""
    model.discriminator = FixedScore()
    model.generate = lambda n: torch.zeros(n, *model.data.shape)
    batch = {"x": torch.ones(6, *model.data.shape), "y": torch.zeros(6, dtype=torch.int64)}
    return model(batch, "discriminator")["loss"].item(), model(batch, "generator")["loss"].item()


def softplus(v):
    return math.log1p(math.exp(v))


@pytest.mark.parametrize("name,loss,g_expected", [
    ("gan", "nonsaturating", softplus(0.5)),  # -log sigmoid(-0.5)
    ("gan", "minimax", -softplus(-0.5)),  # log(1 - sigmoid(-0.5))
    ("dcgan", "nonsaturating", softplus(0.5)),
    ("dcgan", "minimax", -softplus(-0.5)),
])
def test_gan_losses_match_their_formulas(name, loss, g_expected):
    d, g = losses_on_known_scores(build(name, loss=loss))
    assert d == pytest.approx(softplus(-1.5) + softplus(-0.5), abs=1e-6)  # -log D(x) - log(1 - D(G(z)))
    assert g == pytest.approx(g_expected, abs=1e-6)


@pytest.mark.parametrize("a,b,c,d_expected,g_expected", [
    (-1.0, 1.0, 0.0, 0.25, 0.125),  # the defaults: 0.5*0.5^2 + 0.5*0.5^2 and 0.5*0.5^2
    (0.3, 0.9, 0.6, 0.5, 0.605),  # 0.5*0.6^2 + 0.5*0.8^2 and 0.5*1.1^2
])
@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_lsgan_losses_match_their_formulas(a, b, c, d_expected, g_expected, arch):
    d, g = losses_on_known_scores(build("lsgan", a=a, b=b, c=c, arch=arch))
    assert d == pytest.approx(d_expected, abs=1e-6) and g == pytest.approx(g_expected, abs=1e-6)


def test_lsgan_defaults_and_architectures():
    cfg = REGISTRY.model("lsgan").Config()
    assert (cfg.a, cfg.b, cfg.c) == (-1.0, 1.0, 0.0) and cfg.b - cfg.c == 1 and cfg.b - cfg.a == 2
    assert isinstance(build("lsgan").generator, ConvGenerator)
    assert not isinstance(build("lsgan", arch="mlp").generator, ConvGenerator)
    assert not isinstance(build("lsgan", DataSpec((2,), 0, "points")).generator, ConvGenerator)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 16, 16), (1, 28, 28), (3, 32, 32), (3, 64, 64)])
def test_dcgan_networks_follow_the_paper_for_every_image_size(shape):
    torch.manual_seed(0)
    g, d = ConvGenerator(10, shape, 32), ConvDiscriminator(shape, 32)
    x = g(torch.randn(16, 10))
    assert x.shape == (16, *shape) and x.min() >= 0 and x.max() <= 1 and d(x).shape == (16, 1)
    ups = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    downs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert len(ups) == len(downs) == start_size(shape)[0] and all(m.stride == (2, 2) for m in ups + downs)
    assert isinstance(g.body[-1], nn.Tanh) and isinstance(g.body[-2], nn.ConvTranspose2d)  # no BN at the output
    assert isinstance(d.body[0], nn.Conv2d) and isinstance(d.body[1], nn.LeakyReLU)  # no BN at the input
    assert all(m.negative_slope == 0.2 for m in d.modules() if isinstance(m, nn.LeakyReLU))
    assert any(isinstance(m, nn.BatchNorm2d) for m in g.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == (len(downs) > 1)  # hidden layers only
    convs = torch.cat([m.weight.flatten() for m in ups + downs])  # N(0, 0.02)
    assert abs(convs.std().item() - 0.02) < 0.002 and abs(convs.mean().item()) < 0.002


def output_shapes(net, kinds, x):
    """Output shapes (without the batch) of the modules of ``kinds`` in ``net``, in call order."""
    shapes = []
    hooks = [m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:])))
             for m in net.modules() if isinstance(m, kinds)]
    net(x)
    for h in hooks:
        h.remove()
    return shapes


def test_dcgan_at_64x64_is_the_papers_network():
    """Radford et al. 2016, figure 1 and the official faces code (ngf = ndf = 128): z (100) is
    projected to (1024, 4, 4); four fractionally-strided convolutions make (512, 8, 8) ...
    (3, 64, 64); the discriminator mirrors them with four strided convolutions, then one output."""
    torch.manual_seed(0)
    g, d = ConvGenerator(100, (3, 64, 64), 128), ConvDiscriminator((3, 64, 64), 128)
    z = torch.randn(2, 100)
    assert g.project(z).shape == (2, 1024, 4, 4)
    assert output_shapes(g, nn.ConvTranspose2d, z) == [(512, 8, 8), (256, 16, 16), (128, 32, 32), (3, 64, 64)]
    assert output_shapes(g, nn.BatchNorm2d, z) == [(1024, 4, 4), (512, 8, 8), (256, 16, 16), (128, 32, 32)]
    assert sum(isinstance(m, nn.ReLU) for m in g.modules()) == 4
    x = g(z)
    assert output_shapes(d, nn.Conv2d, x) == [(128, 32, 32), (256, 16, 16), (512, 8, 8), (1024, 4, 4)]
    assert output_shapes(d, nn.BatchNorm2d, x) == [(256, 16, 16), (512, 8, 8), (1024, 4, 4)]  # not on the input
    assert sum(isinstance(m, nn.LeakyReLU) for m in d.modules()) == 4
    assert output_shapes(d, nn.Linear, x) == [(1,)]
    model = build("dcgan", DataSpec((3, 64, 64), 0, "image"), g_width=128, d_width=128, latent_dim=100)
    assert model.sample(2).shape == (2, 3, 64, 64)


def test_pacgan_arch_is_the_official_2d_network_and_its_parameter_count():
    """Lin et al. 2018's 2-D code: G = 4 x [Linear (no bias), BatchNorm, ReLU] of 400, then a
    Linear to 2; D = 3 maxout layers of 200 units x 5 pieces, then a Linear to 1; N(0, 0.02) weights."""
    model = build("gan", tiny_data("points").spec, arch="pacgan", latent_dim=2, g_hidden=400, d_hidden=200)
    g, d = model.generator, model.discriminator
    linears = [m for m in g.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features, m.bias is not None) for m in linears] == \
        [(2, 400, False), (400, 400, False), (400, 400, False), (400, 400, False), (400, 2, True)]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in g.modules()) == 4
    assert [m.out_features for m in d.modules() if isinstance(m, nn.Linear)] == [1000, 1000, 1000, 1]
    assert sum(p.numel() for p in d.parameters()) == (2 * 1000 + 1000) + 2 * (200 * 1000 + 1000) + 201
    w = torch.cat([m.weight.flatten() for m in linears])
    assert abs(w.std().item() - 0.02) < 0.001 and all(not m.bias.any() for m in d.modules() if isinstance(m, nn.Linear))


def test_maxout_takes_the_largest_piece_of_each_unit():
    from gp_models.pacgan import Maxout

    layer = Maxout(1, 2, pieces=3)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor([[1.0], [-1.0], [2.0], [0.0], [-3.0], [0.5]]))
        layer.linear.bias.zero_()
    assert layer(torch.tensor([[1.0], [-2.0]])).tolist() == [[2.0, 0.5], [2.0, 6.0]]


def test_pacgan_arch_trains_and_samples_with_population_statistics():
    data = tiny_data("points", n=64)
    model = build("gan", data.spec, arch="pacgan", latent_dim=2, g_hidden=16, d_hidden=8)
    losses = Stepper(model, model, model.configure_optimizers())({"x": data.x[:16], "y": data.y[:16]})
    assert set(losses) >= {"discriminator/loss", "generator/loss"}
    model.eval()
    torch.manual_seed(1)
    one = model.sample(1)  # a batch of one: BatchNorm uses its running statistics
    assert one.shape == (1, 2) and torch.isfinite(one).all()


def test_dcgan_optimizers_and_latent_walk():
    model = build("dcgan")
    for opt in model.configure_optimizers().values():
        assert opt.defaults["lr"] == 2e-4 and opt.defaults["betas"] == (0.5, 0.999)
    assert is_picture(model.eval().figures(None)["latent_walk"])


# ---------------------------------------------------------------- CVAE (M2)


class ConstLogits(nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, x):
        return self.logits[: len(x)]


def known_bound_cvae():
    """A cvae whose bound is L(x, y) = sum(x) + cost[y] (known), with logits from a table."""
    model = build("cvae", DataSpec((1, 2, 2), 3, "image"))
    cost = torch.tensor([1.0, 4.0, 2.0])
    model.neg_elbo = lambda x, y1h: x.flatten(1).sum(1) + y1h @ cost
    x = torch.rand(6, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    return model, x, x.flatten(1).sum(1, keepdim=True) + cost  # bound table (6, 3)


def test_cvae_unlabelled_bound_marginalises_classes():
    model, x, table = known_bound_cvae()
    logits = torch.randn(6, 3, generator=torch.Generator().manual_seed(1))
    q = logits.softmax(1)
    entropy = -(q * q.log()).sum(1)
    assert torch.allclose(model.unlabelled(x, logits), (q * table).sum(1) - entropy, atol=1e-5)
    tight = -torch.logsumexp(-table, 1)  # -log sum_y exp(-L(x, y)): the best q gives this
    assert (model.unlabelled(x, logits) >= tight - 1e-5).all()
    assert torch.allclose(model.unlabelled(x, -table), tight, atol=1e-5)


def test_cvae_loss_on_a_batch_mixing_labelled_and_unlabelled_examples():
    model, x, table = known_bound_cvae()
    logits = torch.randn(6, 3, generator=torch.Generator().manual_seed(2))
    model.classifier = ConstLogits(logits)
    y = torch.tensor([0, 2, -1, -1, 1, -1])
    out = model({"x": x, "y": y}, "model")
    lab = y >= 0
    q = logits.softmax(1)
    unlabelled = (q * (table + logits.log_softmax(1))).sum(1)[~lab]
    bound = (table[lab, y[lab]].sum() + unlabelled.sum()) / 6
    ce = -logits.log_softmax(1)[lab, y[lab]].mean()
    assert out["bound"].item() == pytest.approx(bound.item(), abs=1e-5)
    assert out["loss"].item() == pytest.approx((bound + model.config.alpha * ce).item(), abs=1e-5)


def test_cvae_bounds_are_exact_for_a_coin_flip_model():
    """Zero weights: q(z|x,y) = p(z), p(x|y,z) = Bernoulli(1/2)^D, q(y|x) uniform, so
    -log p(x, y) = D log 2 + log K and -log p(x) = D log 2, and both bounds are tight."""
    model = build("cvae", DataSpec((1, 2, 3), 4, "image"))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    x = torch.rand(5, 1, 2, 3)
    y1h = model.onehot(torch.tensor([0, 1, 2, 3, 0]))
    assert torch.allclose(model.neg_elbo(x, y1h), torch.full((5,), 6 * math.log(2) + math.log(4)), atol=1e-5)
    assert torch.allclose(model.unlabelled(x, model.classifier(x.flatten(1))), torch.full((5,), 6 * math.log(2)), atol=1e-5)


def test_cvae_semi_supervised_step_trains_every_network():
    data = tiny_data("image", n=16)
    model = build("cvae", data.spec)
    y = data.y.clone()
    y[::2] = -1
    before = {n: flat_params(getattr(model, n)) for n in ("encoder", "decoder", "classifier")}
    losses = Stepper(model, model, model.configure_optimizers())({"x": data.x, "y": y})
    assert all(torch.isfinite(v) for v in losses.values()) and losses["model/labelled_ce"] > 0
    assert all(not torch.equal(before[n], flat_params(getattr(model, n))) for n in before)
    assert model.classify(data.x).shape == (16,)


def test_cvae_samples_depend_on_the_class():
    model = build("cvae").eval()
    assert type(model).conditional
    draws = {}
    for c in (0, 1, 0):
        torch.manual_seed(5)
        draws.setdefault(c, []).append(model.sample(8, torch.full((8,), c)))
    assert torch.equal(*draws[0]) and not torch.allclose(draws[0][0], draws[1][0])
    assert model.sample(8).shape == (8, 1, 8, 8)
    assert is_picture(model.figures(tiny_data("image"))["class_samples"])


# ---------------------------------------------------------------- AAE variants


def test_aae_default_is_the_unchanged_unsupervised_model():
    model = build("aae", **REGISTRY.model("aae").Config().model_dump())
    assert model.config.variant == "unsupervised" and not model.is_conditional
    assert model.updates == ("reconstruction", "discriminator", "generator")
    assert {k.split(".")[0] for k in model.state_dict()} == {"encoder", "decoder", "discriminator"}
    assert model.encoder[-1].out_features == model.config.latent_dim == 8 and model.decoder[0].in_features == 8


@pytest.mark.parametrize("variant", ["supervised", "semi-supervised"])
def test_aae_label_variants_step_and_honour_y(variant):
    data = tiny_data("image", n=16)
    model = build("aae", data.spec, variant=variant)
    assert model.is_conditional and model.updates[-1] == ("classification" if variant == "semi-supervised" else "generator")
    y = data.y.clone()
    y[::3] = -1
    losses = Stepper(model, model, model.configure_optimizers())({"x": data.x, "y": y})
    assert set(losses) >= {f"{u}/loss" for u in model.updates} and all(torch.isfinite(v) for v in losses.values())
    model.eval()
    z = model.prior(6)
    a, b = model.decode(z, torch.zeros(6, dtype=torch.int64)), model.decode(z, torch.ones(6, dtype=torch.int64))
    assert not torch.allclose(a, b) and torch.equal(a, model.decode(z, torch.zeros(6, dtype=torch.int64)))
    assert model.sample(5, torch.arange(5)).shape == (5, 1, 8, 8)
    figs = model.figures(data)
    assert set(figs) == {"codes_vs_prior", "style_by_class"} and all(map(is_picture, figs.values()))


def test_semi_supervised_aae_updates_touch_the_right_networks_and_classification_learns():
    data = tiny_data("image", n=16)
    model = build("aae", data.spec, variant="semi-supervised", hidden=32, lr=1e-2)
    opts = model.configure_optimizers()
    batch = {"x": data.x, "y": data.y}
    cat_before = flat_params(model.cat_discriminator)
    for update in ("discriminator", "classification"):
        opts[update].zero_grad()
        model(batch, update)["loss"].backward()
        opts[update].step()
    assert not torch.equal(cat_before, flat_params(model.cat_discriminator))
    first = model(batch, "classification")["loss"].item()
    for _ in range(40):
        opts["classification"].zero_grad()
        model(batch, "classification")["loss"].backward()
        opts["classification"].step()
    assert model(batch, "classification")["loss"].item() < 0.5 * first
    assert (model.classify(data.x) == data.y).float().mean() > 0.8


def test_aae_semi_supervised_classification_ignores_unlabelled_examples():
    data = tiny_data("image", n=8)
    model = build("aae", data.spec, variant="semi-supervised")
    y = torch.full((8,), -1)
    y[:3] = data.y[:3]
    logits = model.split(data.x)[1]
    expected = torch.nn.functional.cross_entropy(logits[:3], data.y[:3])
    assert model({"x": data.x, "y": y}, "classification")["loss"].item() == pytest.approx(expected.item(), abs=1e-6)
    assert model({"x": data.x, "y": torch.full((8,), -1)}, "classification")["loss"].item() == 0.0


# ---------------------------------------------------------------- training on digits


@pytest.mark.parametrize("plugin,model,labelled", [
    ("cvae", {}, 100),
    ("dcgan", {}, None),
    ("lsgan", {}, None),
    ("lsgan", {"arch": "mlp"}, None),
    ("aae", {"variant": "supervised"}, None),
    ("aae", {"variant": "semi-supervised"}, 100),
])
def test_trains_a_few_steps_on_digits(plugin, model, labelled):
    cls = REGISTRY.model(plugin)
    job = {"plugin": plugin, "model": {**cls.tiny, **model},
           "data": {"name": "digits", "labelled": labelled},
           "trainer": {"epochs": 1, "steps_per_epoch": 3, "batch_size": 32, "samples": 16, "threads": 1}}
    session = LocalSession()
    summary = run({"job": job}, session)
    assert summary["status"] == "finished" and summary["step"] == 3 and len(session.checkpoints) == 1
