"""The networks of PacGAN's 2-D experiments (Lin et al. 2018, "PacGAN: The power of two samples
in generative adversarial networks"), as the official code builds them
(github.com/fjxmlzn/PacGAN, synthetic_data_experiments/2DGrid_GAN&PacGAN/pacgan_task.py).

``gan``'s ``model.arch=pacgan`` uses them; gp trains PacGAN's unpacked baseline (packing 1):
the discriminator sees one sample at a time.

- Generator: z (B, nz) -> 4 x [Linear without bias, BatchNorm, ReLU] of ``hidden`` units ->
  Linear -> data space (B, *shape).
- Discriminator: data (B, *shape) -> 3 maxout layers of ``hidden`` units x ``pieces`` ->
  Linear -> (B, 1) scores.
- Weights drawn from N(0, 0.02), biases 0 (the code's IsotropicGaussian(0.02), Constant(0)).
"""
from torch import nn

from gp.layers import to_data

INIT_STD = 0.02  # pacgan_task.py / config.py: weights_init_std
BN_MOMENTUM = 0.05  # pacgan_task.py: population statistics updated as 0.05 * batch + 0.95 * running


def init_weights(module: nn.Module) -> None:
    """Every Linear weight from N(0, 0.02), every Linear bias 0."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, INIT_STD)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class PacGANGenerator(nn.Module):
    """z (B, nz) -> data space (B, *shape) through 4 batch-normalised ReLU layers."""

    def __init__(self, nz: int, hidden: int, spec, layers: int = 4):
        super().__init__()
        blocks, width = [], nz
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden, bias=False), nn.BatchNorm1d(hidden, momentum=BN_MOMENTUM), nn.ReLU()]
            width = hidden
        self.net = nn.Sequential(*blocks, nn.Linear(width, spec.dim))
        self.spec = spec
        init_weights(self)

    def forward(self, z):
        return to_data(self.net(z), self.spec)  # (B, *shape)


class Maxout(nn.Module):
    """(B, a) -> (B, b): the largest of ``pieces`` linear units per output (Goodfellow et al. 2013)."""

    def __init__(self, a: int, b: int, pieces: int):
        super().__init__()
        self.linear, self.pieces = nn.Linear(a, b * pieces), pieces

    def forward(self, x):
        return self.linear(x).unflatten(1, (-1, self.pieces)).amax(2)  # (B, b * pieces) -> (B, b)


class PacGANDiscriminator(nn.Module):
    """Data (B, *shape) -> (B, 1) scores through 3 maxout layers."""

    def __init__(self, dim: int, hidden: int, pieces: int = 5, layers: int = 3):
        super().__init__()
        widths = [dim] + [hidden] * layers
        self.net = nn.Sequential(*[Maxout(a, b, pieces) for a, b in zip(widths[:-1], widths[1:])],
                                 nn.Linear(hidden, 1))
        init_weights(self)

    def forward(self, x):
        return self.net(x.flatten(1))


def networks(nz: int, g_hidden: int, d_hidden: int, spec) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) of PacGAN's 2-D experiments for ``spec``'s data."""
    return PacGANGenerator(nz, g_hidden, spec), PacGANDiscriminator(spec.dim, d_hidden)

