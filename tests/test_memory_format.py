"""Channels-last training (gp.train.layout, ``trainer.channels_last``): which models get
it, and that it trains like the default layout and checkpoints into either one."""
import pytest
import torch

from gp.train import checkpoint, layout
from gp.train.step import Stepper
from tests.conftest import tiny_data
from tests.test_conformance import build as build_model
from tests.test_graph import train

SHAPE = (3, 16, 16)


def _conv_models(registry) -> list[str]:
    names = []
    for name, (cls, _) in sorted(registry.models.items()):
        if "image" in cls.kinds and layout.wanted(build_model(name, "image", SHAPE)[0], "auto"):
            names.append(name)
    return names


def test_auto_picks_convolutional_models_except_the_autoregressive_ones(registry):
    names = _conv_models(registry)
    assert {"dcgan", "lsgan"} <= set(names)
    assert not {"vae", "aae", "gan", "pixelcnn", "pixelrnn"} & set(names)
    vae, _ = build_model("vae", "image", SHAPE)
    assert layout.wanted(vae, True) and not layout.wanted(build_model("dcgan", "image", SHAPE)[0], False)


@pytest.mark.parametrize("name", ["dcgan", "lsgan"])
def test_channels_last_trains_like_the_default_layout(name):
    data = tiny_data("image", n=64, shape=SHAPE)
    default, _ = build_model(name, "image", SHAPE)
    nhwc, _ = build_model(name, "image", SHAPE)
    nhwc.load_state_dict(default.state_dict())
    assert layout.apply(nhwc, "auto")
    convs = [m.weight for m in nhwc.modules() if isinstance(m, layout.CONVOLUTIONS)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    assert not all(w.is_contiguous() for w in convs)  # really another layout, not a no-op
    a, _ = train(Stepper, default, data, steps=5)
    b, _ = train(Stepper, nhwc, data, steps=5)
    torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
    back, _ = build_model(name, "image", SHAPE)  # a checkpoint of it loads into the default layout
    back.load_state_dict(checkpoint.state(nhwc, {}, 1, 5)["model"])
    for p, q in zip(back.parameters(), nhwc.parameters()):
        assert p.is_contiguous() and torch.equal(p, q)
