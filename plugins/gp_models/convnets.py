"""DCGAN-style convolutional generator and discriminator (Radford, Metz, Chintala 2015,
"Unsupervised Representation Learning with Deep Convolutional Generative Adversarial
Networks", arXiv:1511.06434), adapting to images of 8x8, 16x16, 28x28, 32x32 or 64x64 pixels.

At 64x64 with width 128 they are the paper's networks (figure 1): z is projected and reshaped
to (1024, 4, 4), then four fractionally-strided convolutions give (512, 8, 8), (256, 16, 16),
(128, 32, 32) and (C, 64, 64); the discriminator mirrors them with four strided convolutions
and one linear output on the flattened (1024, 4, 4) map. Kernels are 4x4 with stride 2 (the
PyTorch DCGAN example; the paper's Theano code uses 5x5). Smaller images take fewer levels.

The paper's guidelines: strided (transposed) convolutions instead of pooling, batch norm
in both networks except on the generator output and the discriminator input, ReLU in the
generator with a Tanh output, LeakyReLU(0.2) in the discriminator, weights from N(0, 0.02).
The generator's Tanh output is mapped to [0, 1] (gp's image space), and the discriminator
maps its [0, 1] input to [-1, 1], so both work in gp's data space.
"""
from __future__ import annotations

from torch import nn


def start_size(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(levels, h0, w0): halve H and W ``levels`` times, as long as both stay even and >= 4.

    64 -> 4 (4 levels, the paper's), 32 -> 4 (3), 28 -> 7 (2), 16 -> 4 (2), 8 -> 4 (1).
    """
    _, h, w = shape
    levels = 0
    while h % 2 == 0 and w % 2 == 0 and min(h, w) // 2 >= 4:
        h, w, levels = h // 2, w // 2, levels + 1
    return levels, h, w


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.'s init: conv weights N(0, 0.02), batch-norm scales N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class ConvGenerator(nn.Module):
    """z (B, nz) -> images (B, C, H, W) in [0, 1]; ``width`` channels before the output layer."""

    def __init__(self, nz: int, shape: tuple[int, ...], width: int = 64):
        super().__init__()
        levels, h0, w0 = start_size(shape)
        top = width * 2 ** max(levels - 1, 0)
        self.project = nn.Sequential(  # (B, nz) -> (B, top, h0, w0), the paper's projection
            nn.Linear(nz, top * h0 * w0, bias=False), nn.Unflatten(1, (top, h0, w0)), nn.BatchNorm2d(top), nn.ReLU())
        layers: list[nn.Module] = []
        ch = top
        for _ in range(levels - 1):  # each doubles H and W and halves the channels
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU()]
            ch //= 2
        stride, pad = (2, 1) if levels else (1, 1)  # last layer: no batch norm, Tanh
        kernel = 4 if levels else 3
        layers += [nn.ConvTranspose2d(ch, shape[0], kernel, stride, pad), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z):
        return (self.body(self.project(z)) + 1) / 2  # (B, C, H, W) in [0, 1]


class ConvDiscriminator(nn.Module):
    """Images (B, C, H, W) in [0, 1] -> (B, 1) scores; ``width`` channels after the first layer."""

    def __init__(self, shape: tuple[int, ...], width: int = 64):
        super().__init__()
        levels, h0, w0 = start_size(shape)
        layers: list[nn.Module] = [nn.Conv2d(shape[0], width, 4, 2, 1) if levels else nn.Conv2d(shape[0], width, 3, 1, 1),
                                   nn.LeakyReLU(0.2)]  # no batch norm on the input layer
        ch = width
        for _ in range(levels - 1):
            layers += [nn.Conv2d(ch, 2 * ch, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ch), nn.LeakyReLU(0.2)]
            ch *= 2
        layers += [nn.Flatten(), nn.Linear(ch * h0 * w0, 1)]  # (B, ch*h0*w0) -> (B, 1)
        self.body = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x):
        return self.body(2 * x - 1)  # [0, 1] -> [-1, 1], the range of the generator's Tanh
