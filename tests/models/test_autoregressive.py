"""Math of the autoregressive models (PixelCNN plain and gated, PixelRNN Row LSTM and Diagonal
BiLSTM): causality of every output in the raster and R -> G -> B order, exact normalised
likelihoods, the sampler's cropping and caching, and short training runs."""
import math

import numpy as np
import pytest
import torch

from gp.data.spec import Dataset
from gp.model import DataSpec
from gp_models import masked, pixelcnn, pixelrnn
from gp_models.pixelcnn import PixelCNN
from gp_models.pixelrnn import PixelRNN

VARIANTS = [(PixelCNN, "plain"), (PixelCNN, "gated"), (PixelRNN, "row"), (PixelRNN, "diagonal")]
IDS = [f"{cls.name}-{v}" for cls, v in VARIANTS]



def build(cls, variant, shape, **overrides):
    torch.manual_seed(0)
    config = cls.Config.model_validate({**cls.tiny, "variant": variant, **overrides})
    return cls(config, DataSpec(tuple(shape), 10, "image")).eval()


def raster(shape):
    """Position of every input (C, H, W) in the model's order: pixels in raster order, then R, G, B."""
    c, h, w = shape
    return torch.arange(h * w).view(1, h, w) * c + torch.arange(c).view(c, 1, 1)


def dependence(model, i, j, c, draws=3):
    """Inputs (C, H, W) that the logits of colour c at pixel (i, j) have a nonzero gradient for."""
    seen = torch.zeros(model.data.shape, dtype=torch.bool)
    for _ in range(draws):
        v = torch.randn(1, *model.data.shape, requires_grad=True)
        logits = model.logits(v, model.labels(torch.tensor([3]), 1))[0, :, c, i, j]  # (k,)
        (grad,) = torch.autograd.grad(logits @ torch.randn(len(logits)), v)
        seen |= grad[0] != 0
    return seen


def check_causality(model, positions, draws=2):
    """(violations, vacuous): outputs that see an input at or after them; outputs that see nothing
    although earlier inputs exist (a checker that finds no dependence at all proves nothing)."""
    order, bad, vacuous = raster(model.data.shape), [], []
    for i, j in positions:
        for c in range(model.data.shape[0]):
            seen, later = dependence(model, i, j, c, draws), order >= order[c, i, j]
            if seen[later].any():
                bad.append((i, j, c))
            if (~later).any() and not seen[~later].any():
                vacuous.append((i, j, c))
    return bad, vacuous


SHAPE = (5, 6)  # (H, W)
POSITIONS = [(0, 0), (0, 1), (0, 5), (1, 0), (1, 4), (1, 5), (2, 3), (4, 0), (4, 4), (4, 5)]


@pytest.mark.parametrize("colours", [1, 3])
@pytest.mark.parametrize("cls,variant", VARIANTS, ids=IDS)
def test_every_output_sees_only_earlier_pixels_and_colours(cls, variant, colours):
    model = build(cls, variant, (colours, *SHAPE), hidden=16)  # wide enough that ReLUs rarely all die
    bad, vacuous = check_causality(model, POSITIONS)
    assert bad == [], f"outputs that see themselves or later inputs: {bad}"
    assert vacuous == [], f"outputs with no dependence on earlier inputs: {vacuous}"


def mask_a_as_b(original):
    """A broken causal_mask: mask A lets a colour see itself at the centre (the centre flipped to 1)."""
    return lambda kernel, centre, kind, *groups: original(kernel, centre, "B", *groups)


@pytest.mark.parametrize("cls,variant,module,name", [
    (PixelCNN, "plain", masked, "causal_mask"), (PixelCNN, "gated", masked, "causal_mask"),
    (PixelRNN, "row", masked, "causal_mask"), (PixelRNN, "diagonal", masked, "causal_mask"),
    (PixelCNN, "gated", pixelcnn, "shift_down"), (PixelRNN, "diagonal", pixelrnn, "shift_down"),
], ids=["plain-mask", "gated-mask", "row-mask", "diagonal-mask", "gated-no-shift", "diagonal-no-shift"])
def test_the_causality_check_catches_a_broken_model(cls, variant, module, name, monkeypatch):
    broken = mask_a_as_b(masked.causal_mask) if name == "causal_mask" else (lambda x: x)
    monkeypatch.setattr(module, name, broken)
    bad, _ = check_causality(build(cls, variant, (3, *SHAPE)), [(0, 0), (1, 5), (4, 5)], draws=1)
    assert bad, "a model that sees the pixel it predicts passed the causality check"


def centre_opened(original, kind, out_colour, in_colour):
    """A broken causal_mask: in masks of ``kind``, outputs of colour ``out_colour`` (0=R, 1=G, 2=B)
    also see input colour ``in_colour`` at the centre pixel."""
    def broken(kernel, centre, k, in_groups, out_groups):
        mask = original(kernel, centre, k, in_groups, out_groups)  # (out, in, kh, kw)
        if k == kind:
            opened = (out_groups[:, None] == out_colour) & (in_groups[None, :] == in_colour)  # (out, in)
            mask[opened, centre[0], centre[1]] = 1
        return mask
    return broken


@pytest.mark.parametrize("kind,seen,broken", [("A", 1, {1}), ("A", 2, {1, 2}), ("B", 2, {1})],
                         ids=["A-G-sees-G", "A-G-sees-B", "B-G-sees-B"])
@pytest.mark.parametrize("cls,variant", VARIANTS, ids=IDS)
def test_the_causality_check_fails_if_green_sees_its_own_green_or_blue(cls, variant, kind, seen, broken,
                                                                       monkeypatch):
    """One opening in the colour masks makes G's logits depend on its own pixel's G or B, and the
    numerical check names exactly the outputs that break: mask A letting G see the input's G
    breaks G only; letting it see B breaks G and B (B's features see G's); mask B letting G
    features see B features (which see the input's R and G) breaks G only."""
    monkeypatch.setattr(masked, "causal_mask", centre_opened(masked.causal_mask, kind, 1, seen))
    positions = [(0, 0), (1, 5), (4, 5)]
    bad, _ = check_causality(build(cls, variant, (3, *SHAPE), hidden=16), positions, draws=1)
    assert set(bad) == {(i, j, c) for i, j in positions for c in broken}, bad


def test_gated_pixelcnn_has_no_blind_spot_plain_pixelcnn_and_diagonal_bilstm_have():
    """Gated sees every earlier pixel. Plain misses the pixels above-right beyond its growing
    cone. The Diagonal BiLSTM sees every earlier feature, but its 7x7 mask-A first layer hands
    the last pixel of the row above only to features at least 4 columns left of the right edge
    in this row, so an output further left misses that one pixel, whatever the depth."""
    shape, (i, j) = (1, 5, 9), (4, 3)
    earlier = raster(shape) < raster(shape)[0, i, j]
    seen = dependence(build(PixelCNN, "gated", shape), i, j, 0)
    assert seen[earlier].all(), f"gated: blind to {(~seen & earlier).nonzero().tolist()}"
    seen = dependence(build(PixelCNN, "plain", shape), i, j, 0)
    assert not seen[0, i - 1, j + 4] and seen[0, i - 1, j + 3]  # the pixel above-right, out of sight
    seen = dependence(build(PixelRNN, "diagonal", shape, layers=2), i, j, 0)
    assert (~seen & earlier).nonzero().tolist() == [[0, i - 1, shape[2] - 1]]


def all_images(shape, levels):
    """Every image of ``shape`` with ``levels`` values per channel, in [0, 1]: (levels**D, *shape)."""
    d = math.prod(shape)
    codes = torch.arange(levels**d)
    digits = torch.stack([codes // levels**k % levels for k in range(d)], 1)  # (N, D)
    return (digits.float() / (levels - 1)).view(-1, *shape)


@pytest.mark.parametrize("cls,variant", VARIANTS, ids=IDS)
@pytest.mark.parametrize("shape,output", [((1, 2, 2), "bernoulli"), ((3, 2, 2), "bernoulli"), ((1, 1, 2), "softmax")])
def test_probabilities_of_all_images_sum_to_one(cls, variant, shape, output):
    model = build(cls, variant, shape, output=output)
    x = all_images(shape, 2 if output == "bernoulli" else 256)
    for y in (None, torch.full((len(x),), 3)):
        lp = torch.cat([model.log_prob(part, None if y is None else y[:len(part)]) for part in x.split(8192)])
        assert lp.shape == (len(x),) and (lp < 0).all()
        assert torch.logsumexp(lp.double(), 0).exp().item() == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("cls,variant", VARIANTS, ids=IDS)
@pytest.mark.parametrize("shape", [(1, 7, 8), (3, 5, 7)])
def test_sampler_logits_equal_the_full_forward_pass(cls, variant, shape):
    """The sampler crops to the receptive field and caches rows; with every input not yet sampled
    replaced by noise it must still reproduce the logits of one full pass over the final image."""
    model = build(cls, variant, shape, layers=1 if cls is PixelCNN else 2)  # the crops cut into the image
    v, labels = torch.randn(2, *shape), torch.tensor([1, 10])
    with torch.no_grad():
        full = model.logits(v, labels)  # (2, k, C, H, W)
        order, cache = raster(shape), {}
        for p in range(shape[1] * shape[2]):
            i, j = divmod(p, shape[2])
            for c in range(shape[0]):
                known = order < order[c, i, j]
                noisy = torch.where(known, v, torch.randn_like(v))
                got = model.logits_at(noisy, labels, i, j, cache)[:, :, c]  # (2, k)
                assert torch.allclose(got, full[:, :, c, i, j], atol=1e-5), (p, c)


@pytest.mark.parametrize("cls,variant", VARIANTS, ids=IDS)
@pytest.mark.parametrize("output", ["softmax", "bernoulli"])
def test_samples_lie_in_the_quantised_set_and_completion_keeps_the_given_pixels(cls, variant, output):
    shape = (3, 4, 5)
    model = build(cls, variant, shape, output=output)
    x = model.sample(6, torch.arange(6))
    levels = 255 if output == "softmax" else 1
    assert x.shape == (6, *shape) and x.min() >= 0 and x.max() <= 1
    assert torch.equal(x * levels, (x * levels).round())
    given = torch.rand(4, *shape)
    done = model.complete(given, start=2 * shape[2])
    assert torch.equal(done[:, :, :2], model.discretise(given[:, :, :2]) / levels)


@pytest.mark.parametrize("cls,variant", VARIANTS, ids=IDS)
def test_conditional_samples_follow_the_model_distribution(cls, variant):
    """Train on 2x2 binary images (class 0: all black, class 1: all white, else a mix), then
    the frequencies of samples given y match exp(log_prob(x, y)) over all 16 images."""
    model = build(cls, variant, (1, 2, 2), output="bernoulli").train()
    y = torch.arange(256) % 3
    x = torch.where(y[:, None, None, None] == 2, torch.rand(256, 1, 2, 2).round(), y[:, None, None, None].float())
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    for _ in range(40):
        opt.zero_grad()
        model({"x": x, "y": y})["loss"].backward()
        opt.step()
    model.eval()
    images = all_images((1, 2, 2), 2)
    codes = (images.flatten(1) * torch.tensor([1, 2, 4, 8])).sum(1)  # image index
    assert torch.equal(codes, torch.arange(16).float())
    for label in (0, 1):
        p = model.log_prob(images, torch.full((16,), label)).exp()
        s = model.sample(3000, torch.full((3000,), label)).flatten(1) @ torch.tensor([1.0, 2, 4, 8])
        freq = torch.bincount(s.long(), minlength=16) / 3000
        assert p.max() > 0.5, "training did not make the class distribution sharp"
        assert 0.5 * (freq - p).abs().sum() < 0.05


def test_loss_is_nats_per_example_and_bits_per_dim_match():
    model = build(PixelCNN, "gated", (3, 4, 4)).train()
    x = torch.rand(8, 3, 4, 4)
    out = model({"x": x, "y": torch.full((8,), -1)})
    assert out["loss"].item() == pytest.approx(-model.log_prob(x).mean().item(), rel=1e-5)
    assert out["bits_per_dim"].item() == pytest.approx(out["loss"].item() / (48 * math.log(2)), rel=1e-5)


@pytest.mark.parametrize("cls,variant", VARIANTS, ids=IDS)
def test_trains_on_digits_through_the_loop(cls, variant):
    from gp.train.loop import run
    from gp.train.session import LocalSession

    job = {"plugin": cls.name, "model": {**cls.tiny, "variant": variant},
           "data": {"name": "digits", "limit": 64},
           "trainer": {"epochs": 1, "batch_size": 32, "steps_per_epoch": 2, "samples": 4, "threads": 1}}
    assert run({"job": job}, LocalSession())["status"] == "finished"


@pytest.mark.parametrize("cls,variant", VARIANTS, ids=IDS)
def test_learning_lowers_the_nll_and_figures_show_completions(cls, variant):
    from sklearn.datasets import load_digits

    x = torch.tensor(load_digits().images[:256], dtype=torch.float32).unsqueeze(1) / 16  # (256, 1, 8, 8)
    y = torch.zeros(256, dtype=torch.int64)
    model = build(cls, variant, (1, 8, 8), output="bernoulli").train()
    before = -model.log_prob(x).mean()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(30):
        opt.zero_grad()
        model({"x": x[step % 4 * 64:][:64], "y": y[:64]})["loss"].backward()
        opt.step()
    assert -model.log_prob(x).mean() < 0.8 * before
    pictures = model.eval().figures(Dataset(x[:6], y[:6], model.data))
    image = pictures["completions"]  # 6 rows: originals, occluded, 4 completions
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


@pytest.mark.parametrize("cls,variant", VARIANTS, ids=IDS)
def test_completions_figure_of_colour_images_keeps_rgb_and_the_given_top_half(cls, variant):
    shape = (3, 4, 5)
    model = build(cls, variant, shape)
    x = torch.rand(6, *shape)
    image = model.figures(Dataset(x, torch.zeros(6, dtype=torch.int64), model.data))["completions"]
    side, (h, w) = 6, shape[1:]  # 36 tiles: 6 originals, 6 occluded, 24 completions
    assert image.shape == (side * (h + 1) + 1, side * (w + 1) + 1, 3)
    tile = lambda k: image[1 + k // side * (h + 1):][:h, 1 + k % side * (w + 1):][:, :w]  # noqa: E731
    levels = model.discretise(x).permute(0, 2, 3, 1).numpy().astype(np.uint8)  # (6, H, W, RGB) in 0..255
    assert all(np.array_equal(tile(k), levels[k]) for k in range(6))  # the originals, R G B in order
    assert all(np.array_equal(tile(12 + k)[:h // 2], levels[k % 6][:h // 2]) for k in range(24))  # kept rows
