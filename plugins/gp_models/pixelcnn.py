"""PixelCNN (van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel Recurrent Neural Networks",
ICML) and Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with
PixelCNN Decoders", NeurIPS).

``variant=plain``: a 7x7 mask-A convolution, then residual blocks (1x1, 3x3 mask B, 1x1),
then two 1x1 layers. ``variant=gated``: a vertical stack (rows above, no mask, shifted down
one row before it feeds the horizontal stack) and a horizontal stack (the row to the left,
masked) with gated activations tanh(W_f * x) * sigmoid(W_g * x); together they see every
earlier pixel, with no blind spot. With ``conditional=true`` a learned class bias enters
every layer. Output and discretisation (``output=softmax``: 256-way softmax on 8-bit data;
``output=bernoulli``: data binarised at 0.5) are described in :mod:`gp_models.autoregressive`.
"""
import torch
from pydantic import Field
from torch import nn

from gp import hookimpl
from gp.recipes import Recipe
from gp_models.autoregressive import Autoregressive, AutoregressiveConfig
from gp_models.masked import MaskedConv2d, output_head, shift_down

FIRST_KERNEL, KERNEL = 7, 3


class PixelCNNConfig(AutoregressiveConfig):
    variant: str = Field("gated", pattern="^(plain|gated)$", description="plain (masked convs) or gated (two stacks)")
    hidden: int = Field(32, ge=6, description="feature channels of every layer")
    layers: int = Field(5, ge=0, description="3x3 layers after the first 7x7 one")


def gate(x):
    """tanh(first half) * sigmoid(second half) over channels: (B, 2h, H, W) -> (B, h, H, W)."""
    f, g = x.chunk(2, 1)
    return torch.tanh(f) * torch.sigmoid(g)


def crop(x, top: int, left: int, i: int, j: int, r: int):
    """The part of x (whose first row and column are image row ``top`` and column ``left``) within
    r rows above and r columns either side of pixel (i, j); and its new top and left."""
    t, l = max(0, i - r), max(0, j - r)
    return x[:, :, t - top:i + 1 - top, l - left:j + r + 1 - left], t, l


class ResidualBlock(nn.Module):
    """The PixelCNN residual block: ReLU, 1x1 (h -> h/2), ReLU, 3x3 mask B, ReLU, 1x1 (-> h), add."""

    def __init__(self, h, colours):
        super().__init__()
        m = h // 2
        self.body = nn.Sequential(nn.ReLU(), MaskedConv2d(h, m, 1, "B", colours),
                                  nn.ReLU(), MaskedConv2d(m, m, KERNEL, "B", colours),
                                  nn.ReLU(), MaskedConv2d(m, h, 1, "B", colours))

    def forward(self, x, bias):  # (B, h, H, W), bias (B, h, 1, 1)
        return x + self.body(x + bias)


class GatedLayer(nn.Module):
    """One gated layer: (vertical, horizontal) stacks -> (vertical, horizontal), each (B, h, H, W)."""

    def __init__(self, cin, h, k, colours, first: bool):
        super().__init__()
        self.first = first
        self.vertical = nn.Sequential(nn.ZeroPad2d((k // 2, k // 2, k // 2, 0)), nn.Conv2d(cin, 2 * h, (k // 2 + 1, k)))
        self.link = nn.Conv2d(2 * h, 2 * h, 1)
        self.horizontal = MaskedConv2d(cin, 2 * h, (1, k // 2 + 1), "A" if first else "B", colours,
                                       centre=(0, k // 2), out_chunks=2)
        self.out = MaskedConv2d(h, h, 1, "B", colours)

    def vertical_pass(self, v, bias):
        """Vertical stack output and its link into the horizontal stack (from rows above only)."""
        fv = self.vertical(v)  # (B, 2h, H, W): row i sees rows i-k//2 .. i
        return gate(fv + bias), self.link(shift_down(fv))

    def horizontal_pass(self, x, link, bias):
        """Horizontal stack output from the row to the left, the pixel itself (masked) and the link."""
        out = self.out(gate(self.horizontal(x) + link + bias))
        return out if self.first else x + out

    def forward(self, v, x, bias):  # bias (B, 4h, 1, 1)
        bv, bh = bias.chunk(2, 1)
        v, link = self.vertical_pass(v, bv)
        return v, self.horizontal_pass(x, link, bh)


class PixelCNN(Autoregressive):
    name, Config = "pixelcnn", PixelCNNConfig
    tiny = {"hidden": 8, "layers": 2, "conditional": True}

    def __init__(self, config: PixelCNNConfig, data):
        super().__init__(config, data)
        c, h, gated = data.shape[0], config.hidden, config.variant == "gated"
        kernels = [FIRST_KERNEL] + [KERNEL] * config.layers
        self.reach = sum(k // 2 for k in kernels)  # columns to the left that the horizontal stacks see
        if gated:
            self.stack = nn.ModuleList(GatedLayer(c if i == 0 else h, h, k, c, i == 0) for i, k in enumerate(kernels))
        else:
            self.first = MaskedConv2d(c, h, FIRST_KERNEL, "A", c)
            self.stack = nn.ModuleList(ResidualBlock(h, c) for _ in range(config.layers))
        self.biases = len(self.stack) + (0 if gated else 1)  # one class bias per layer
        self.bias = self.label_embedding(self.biases * (4 * h if gated else h))
        self.head = output_head(h, c, self.k)

    def layer_biases(self, labels):
        """The class bias of every layer, each (B, width, 1, 1)."""
        return self.bias(labels)[:, :, None, None].chunk(self.biases, 1)

    def trunk(self, v, labels):  # (B, C, H, W) in [-1, 1] -> (B, h, H, W)
        biases = self.layer_biases(labels)
        if self.config.variant == "plain":
            x = self.first(v) + biases[0]
            for block, b in zip(self.stack, biases[1:]):
                x = block(x, b)
            return x
        x = v
        for layer, b in zip(self.stack, biases):
            v, x = layer(v, x, b)
        return x

    def logits_at(self, v, labels, i, j, cache):
        """Gated: the vertical stacks reach row i only through row i-1, so they advance one row at
        a time; per pixel only the horizontal stacks run, on row i within reach."""
        if self.config.variant == "plain":
            return self.plain_logits_at(v, labels, i, j)
        biases = [b.chunk(2, 1) for b in self.layer_biases(labels)]  # (vertical, horizontal) per layer
        if "links" not in cache:  # the row above the image is zero padding
            zero = v.new_zeros(len(v), 2 * self.config.hidden, 1, v.shape[3])
            cache.update(done=0, rows=[None] * len(self.stack), links=[layer.link(zero) for layer in self.stack])
        while cache["done"] < i:
            self.vertical_row(v, cache["done"], biases, cache)
            cache["done"] += 1
        left = max(0, j - self.reach)
        x = v[:, :, i:i + 1, left:j + 1]  # (B, C, 1, cols)
        for layer, link, (_, bh) in zip(self.stack, cache["links"], biases):
            x = layer.horizontal_pass(x, link[..., left:j + 1], bh)
        return self.split(self.head(x[..., -1:]))[..., 0, 0]

    def plain_logits_at(self, v, labels, i, j):
        """Plain: every layer runs only on the window around (i, j) that the layers after it need."""
        biases, rest = self.layer_biases(labels), len(self.stack)  # each block reaches 1 pixel
        x, top, left = crop(v, 0, 0, i, j, FIRST_KERNEL // 2 + rest)
        x = self.first(x) + biases[0]
        for n, (block, b) in enumerate(zip(self.stack, biases[1:])):
            x, top, left = crop(x, top, left, i, j, rest - n)
            x = block(x, b)
        return self.split(self.head(x[:, :, i - top:i - top + 1, j - left:j - left + 1]))[..., 0, 0]

    def vertical_row(self, v, r, biases, cache):
        """Run every vertical stack on the completed row r (from the few rows its kernel needs);
        keep those rows per layer and the links into row r + 1."""
        u = v[:, :, max(0, r - FIRST_KERNEL // 2):r + 1]
        for n, (layer, (bv, _)) in enumerate(zip(self.stack, biases)):
            fv = layer.vertical(u)[:, :, -1:]  # (B, 2h, 1, W): row r
            cache["links"][n] = layer.link(fv)
            rows = [cache["rows"][n]] if cache["rows"][n] is not None else []
            u = cache["rows"][n] = torch.cat([*rows, gate(fv + bv)], 2)[:, :, -(KERNEL // 2 + 1):]

    recipes = {
        "paper": Recipe(
            "van den Oord et al. 2016a (Pixel RNN), its PixelCNN on binarised MNIST, on Fashion-MNIST binarised at "
            "0.5; depth and width for MNIST are not given, so gp's defaults stay; the paper trains with RMSProp, "
            "gp with Adam", {
                "model.variant": ("plain", "the 2016a PixelCNN: a 7x7 mask-A convolution, then 3x3 mask-B residual "
                                  "blocks, no gated stacks"),
                "model.output": ("bernoulli", "binarised MNIST: one sigmoid output per pixel "
                                 "(recalled, not checked against the paper)"),
                "trainer.batch_size": (16, "training details: batches of 16 images for MNIST and CIFAR-10, which "
                                       "regularised the models (recalled, not checked against the paper)"),
                "model.lr": (1e-3, "not the paper's (RMSProp, rates set per dataset): gp's Adam rate"),
                "trainer.epochs": (20, "not stated; 20 epochs, a budget choice"),
                "data.name": ("fashion-mnist", "gp's dataset; the paper's MNIST is data=mnist data.root=DIR"),
            }),
        "gated-conditional": Recipe(
            "van den Oord et al. 2016b (Conditional Image Generation with PixelCNN Decoders): the gated PixelCNN "
            "with a class-conditional bias in every layer, on Fashion-MNIST's 8-bit pixels; gp sample y=... then "
            "draws a chosen class", {
                "model.variant": ("gated", "section 2.2: gated activations and vertical + horizontal stacks, "
                                  "no blind spot (recalled, not checked against the paper)"),
                "model.conditional": (True, "section 2.3: the class one-hot adds a learned bias to every layer "
                                      "(recalled, not checked against the paper)"),
                "model.output": ("softmax", "a 256-way softmax per channel, as in both papers"),
                "trainer.epochs": (20, "not stated; 20 epochs, a budget choice"),
                "data.name": ("fashion-mnist", "gp's dataset (the paper: CIFAR-10, ImageNet, portraits)"),
            }),
        "cpu": Recipe("fits a 2-core CPU in a few minutes: 200 steps of a small binary model; not a paper setting", {
            "model.hidden": (16, "2-core CPU budget"),
            "model.layers": (3, "2-core CPU budget"),
            "model.output": ("bernoulli", "2-core CPU budget: one logit per pixel instead of 256"),
            "trainer.batch_size": (32, "2-core CPU budget"),
            "trainer.epochs": (2, "2-core CPU budget"),
            "trainer.steps_per_epoch": (100, "2-core CPU budget: 200 steps in all"),
            "trainer.samples": (16, "2-core CPU budget: sampling runs pixel by pixel"),
        }),
    }


@hookimpl
def register_models(register):
    register(PixelCNN)
