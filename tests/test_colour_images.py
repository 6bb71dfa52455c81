"""Colour images (issue 16): sample grids, `gp sample` pictures and gp eval's figures show
C=3 data as RGB in the data's channel order and C=1 data as grey; gp eval's reference
classifier and feature map take any (C, H, W)."""
import numpy as np
import pytest
import torch
from PIL import Image

from gp import render, samples
from gp.eval.classifier import ClassifierConfig, train_reference
from gp.eval.features import Extractor
from gp.eval.figures import nearest_neighbours
from tests.conftest import tiny_data

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def primaries(h: int = 4, w: int = 5) -> torch.Tensor:
    """A red, a green and a blue image, (3, 3, h, w) in [0, 1]."""
    return torch.eye(3)[:, :, None, None].expand(3, 3, h, w).clone()


def tile(img: np.ndarray, k: int, side: int, h: int, w: int, scale: int = 1) -> np.ndarray:
    """Tile k of a montage with ``side`` tiles a row and 1-pixel padding, (h, w, 3)."""
    top, left = (1 + k // side * (h + 1)) * scale, (1 + k % side * (w + 1)) * scale
    return img[top:top + h * scale, left:left + w * scale]


def is_filled(part: np.ndarray, colour) -> bool:
    return bool((part == np.array(colour, dtype=np.uint8)).all())


def test_grid_shows_rgb_in_channel_order_and_grey_as_grey():
    img = render.grid(primaries())  # 3 tiles on a 2x2 grid, white padding and filler
    assert img.dtype == np.uint8 and img.shape == (2 * 5 + 1, 2 * 6 + 1, 3)
    assert [is_filled(tile(img, k, 2, 4, 5), c) for k, c in enumerate((RED, GREEN, BLUE))] == [True] * 3
    assert is_filled(tile(img, 3, 2, 4, 5), (255, 255, 255)) and is_filled(img[0], (255, 255, 255))
    grey = render.grid(torch.full((1, 1, 4, 5), 0.25))
    assert is_filled(tile(grey, 0, 1, 4, 5), (64, 64, 64))


def test_gp_sample_png_keeps_red_green_and_blue_and_npy_keeps_the_channels(tmp_path):
    x = primaries()
    out = tmp_path / "rgb.png"
    samples.write(x, None, "image", str(out), ".png", None)
    png = Image.open(out)
    assert png.mode == "RGB"
    img = np.asarray(png)
    scale = render.auto_scale(render.grid(x))
    assert scale > 1 and img.shape == ((2 * 5 + 1) * scale, (2 * 6 + 1) * scale, 3)
    for k, colour in enumerate((RED, GREEN, BLUE)):
        assert is_filled(tile(img, k, 2, 4, 5, scale), colour), k
    samples.write(x, None, "image", str(tmp_path / "rgb.npy"), ".npy", None)
    assert np.array_equal(np.load(tmp_path / "rgb.npy"), x.numpy())  # (n, C, H, W), R first


def test_gp_sample_of_a_colour_checkpoint_writes_its_colours(tmp_path, registry):
    """`gp sample`'s steps (checkpoint -> model -> options -> draw -> PNG; fetching the checkpoint
    from MLflow is tests/test_cli_ux.py's) on a 32x32 RGB DCGAN whose generator draws one colour:
    R = 1, G = 0, B = 0.5 (the last layer's bias through Tanh), so any channel swap shows."""
    from gp.model import DataSpec
    from gp.train import checkpoint

    cls = registry.model("dcgan")
    net = cls(cls.Config.model_validate(cls.tiny), DataSpec((3, 32, 32), 0, "image"))
    last = net.generator.body[-2]  # ConvTranspose2d to (B, 3, 32, 32)
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([20.0, -20.0, 0.0]))
    path = checkpoint.save(str(tmp_path), checkpoint.state(net, {}, 1, 1))
    model = checkpoint.build_model(checkpoint.load(path), registry)
    x, y = samples.draw(model, samples.parse_options(["n=4"]))
    samples.write(x, y, model.data.kind, str(tmp_path / "x.png"), samples.output_format(str(tmp_path / "x.png"), 1), 1)
    img = np.asarray(Image.open(tmp_path / "x.png"))
    assert img.shape == (2 * 33 + 1, 2 * 33 + 1, 3)
    assert all(is_filled(tile(img, k, 2, 32, 32), (255, 0, 128)) for k in range(4))


def test_eval_nearest_neighbours_figure_is_rgb():
    train = torch.cat([primaries(), primaries() * 0.5])  # bright and dark primaries
    img = nearest_neighbours(primaries(), train, rows=3, k=2)  # row r: sample r, then its 2 neighbours
    for r, colour in enumerate((RED, GREEN, BLUE)):
        dark = tuple(v // 2 + (v > 0) for v in colour)  # 0.5 * 255 rounds to 128
        row = [tile(img, 3 * r + i, 3, 4, 5) for i in range(3)]
        assert is_filled(row[0], colour) and is_filled(row[1], colour) and is_filled(row[2], dark), r


@pytest.mark.parametrize("shape", [(3, 32, 32), (3, 64, 64)])
def test_reference_classifier_and_features_take_colour_images(shape):
    cfg = ClassifierConfig(channels=(4, 8), hidden=16, epochs=1, min_steps=2, batch_size=16)
    train, test = tiny_data("image", 32, shape, classes=4), tiny_data("image", 16, shape, classes=4)
    payload = train_reference(train, test, cfg)
    assert payload["shape"] == list(shape) and 0 <= payload["accuracy"] <= 1
    feats, probs = Extractor(payload)(test.x)
    assert feats.shape == (16, 16) and probs.shape == (16, 4) and torch.isfinite(feats).all()
    assert torch.allclose(probs.sum(1), torch.ones(16))


def test_gp_eval_on_images_without_labels_says_in_one_line_what_to_leave_out_or_pass(monkeypatch, registry):
    """An image folder without class subfolders has no reference classifier: gp eval names the
    metrics to leave out (cs) and the --features flag the feature metrics need, before sampling."""
    import types

    from gp.config import DataConfig
    from gp.errors import GpError
    from gp.eval import plan, reference, runner, store
    from gp.model import DataSpec

    spec = DataSpec((3, 32, 32), 0, "image")
    cls = registry.model("dcgan")
    loaded = types.SimpleNamespace(model=cls(cls.Config.model_validate(cls.tiny), spec),
                                   data_cfg=DataConfig(name="imagefolder"), payload={}, run=None)
    data = tiny_data("image", 8, (3, 32, 32), classes=1)
    monkeypatch.setattr(store, "load_run", lambda run_id, registry: loaded)
    monkeypatch.setattr(reference, "splits", lambda registry, cfg: (data, data))
    with pytest.raises(GpError) as err:
        runner.evaluate("RUN", runner.Options(), registry)
    assert str(err.value) == ("dataset imagefolder has no class labels for the reference classifier that metric cs "
                              "needs; leave it out: metrics=fid,kid,pr,1nn --features module:function")
    with pytest.raises(GpError, match="pass --features module:function .* for metrics fid, kid$"):
        runner.evaluate("RUN", runner.Options(metrics="fid,kid"), registry)
    message = str(plan.unlabelled("x", ["cs", "gan-test"], None))
    assert "metrics cs, gan-test need; ask for other metrics" in message and "\n" not in message
