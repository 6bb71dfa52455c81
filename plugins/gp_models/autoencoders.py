"""What the autoencoder-family plugins share (ae, linear-ae, dae, cae, scae, sae, sdae).

- :func:`networks`: MLP or convolutional encoder/decoder that adapt to (C, H, W) or (D,) data.
- :func:`corrupt`: the masking and additive Gaussian corruptions of Vincent et al. 2008.
- :func:`reconstruction_loss`: Bernoulli cross-entropy or squared error per example.
- :class:`RunningMoments`: running mean / second moment of codes (for ``sample``) or data.
- :class:`Autoencoder`: encode/decode, sampling from a Gaussian fitted to the codes, figures.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gp.layers import mlp, to_data
from gp.model import GenerativeModel
from gp.render import grid, scatter


def _halve(size: tuple[int, int]) -> tuple[int, int]:
    """Spatial size after a 3x3 convolution with stride 2 and padding 1."""
    return (size[0] + 1) // 2, (size[1] + 1) // 2


def conv_encoder(shape, width: int, code: int) -> nn.Sequential:
    """Two stride-2 convolutions and a linear layer: (B, C, H, W) -> (B, code)."""
    c, *hw = shape
    small = _halve(_halve(tuple(hw)))
    return nn.Sequential(
        nn.Conv2d(c, width, 3, 2, 1), nn.ReLU(),  # (B, w, H/2, W/2)
        nn.Conv2d(width, 2 * width, 3, 2, 1), nn.ReLU(),  # (B, 2w, H/4, W/4)
        nn.Flatten(), nn.Linear(2 * width * small[0] * small[1], code))


def conv_decoder(shape, width: int, code: int) -> nn.Sequential:
    """Mirror of :func:`conv_encoder`: (B, code) -> (B, C*H*W) pre-activations.

    ``output_padding`` makes each transposed convolution hit the encoder's sizes exactly
    (odd 7 -> 4 -> 7 for 28x28 as well as even 8 -> 4 -> 2 for 8x8).
    """
    c, *hw = shape
    mid = _halve(tuple(hw))
    small = _halve(mid)
    pad = lambda t: tuple(1 - s % 2 for s in t)  # noqa: E731  (2s-1+p == t)
    return nn.Sequential(
        nn.Linear(code, 2 * width * small[0] * small[1]), nn.ReLU(),
        nn.Unflatten(1, (2 * width, *small)),  # (B, 2w, H/4, W/4)
        nn.ConvTranspose2d(2 * width, width, 3, 2, 1, output_padding=pad(mid)), nn.ReLU(),  # (B, w, H/2, W/2)
        nn.ConvTranspose2d(width, c, 3, 2, 1, output_padding=pad(hw)),  # (B, C, H, W)
        nn.Flatten())


def networks(config, spec) -> tuple[nn.Module, nn.Module]:
    """Encoder (B, *shape) -> (B, d) and decoder (B, d) -> (B, D); points always use MLPs."""
    d, h = config.latent_dim, config.hidden
    if config.arch == "conv" and spec.kind == "image":
        return conv_encoder(spec.shape, config.channels, d), conv_decoder(spec.shape, config.channels, d)
    return nn.Sequential(nn.Flatten(), mlp([spec.dim, h, d])), mlp([d, h, spec.dim])


def corrupt(x: torch.Tensor, kind: str, level: float) -> torch.Tensor:
    """Masking noise (each input set to 0 with probability ``level``) or x + N(0, level^2)."""
    if level <= 0:
        return x
    if kind == "masking":
        return x * (torch.rand_like(x) >= level)
    return x + level * torch.randn_like(x)


def reconstruction_loss(out: torch.Tensor, x: torch.Tensor, spec, loss: str) -> torch.Tensor:
    """Per-example loss (B,) summed over dimensions of decoder pre-activations ``out`` (B, D).

    Images: ``bce`` (Bernoulli cross-entropy with logits) or ``mse`` (squared error of the
    sigmoid output). Points always use squared error (cross-entropy needs targets in [0, 1]).
    """
    x = x.flatten(1)
    if spec.kind == "image" and loss == "bce":
        return F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1)
    pred = torch.sigmoid(out) if spec.kind == "image" else out
    return (pred - x).pow(2).sum(1)


class RunningMoments(nn.Module):
    """Running mean and second moment of vectors (buffers, so they live in checkpoints).

    Batch ``n`` (from 0) is averaged in with weight ``max(1/(n+1), floor)``: an exact
    average over all batches seen at first, then (with ``floor > 0``) an exponential
    moving average that follows a drifting encoder. Updated only in training mode.
    """

    def __init__(self, dim: int, floor: float = 0.01):
        super().__init__()
        self.floor = floor
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("second", torch.ones(dim))  # before any update: N(0, I)
        self.register_buffer("count", torch.zeros(()))

    @torch.no_grad()
    def update(self, v: torch.Tensor) -> None:
        """Average in a batch ``v`` (B, dim); no host synchronisation."""
        if not self.training:
            return
        v = v.detach().float()
        w = (1 / (self.count + 1)).clamp_min(self.floor)
        self.mean.lerp_(v.mean(0), w)
        self.second.lerp_(v.pow(2).mean(0), w)
        self.count += 1

    def std(self) -> torch.Tensor:
        return (self.second - self.mean.pow(2)).clamp_min(1e-12).sqrt()

    def sample(self, n: int) -> torch.Tensor:
        """``n`` draws from the diagonal Gaussian with these moments, (n, dim)."""
        return self.mean + self.std() * torch.randn(n, len(self.mean), device=self.mean.device)


class Autoencoder(GenerativeModel):
    """Base of the family: ``self.encoder`` (B, *shape) -> (B, d), ``self.decoder`` (B, d) -> (B, D).

    An autoencoder has no prior to sample from, so ``forward`` keeps running moments of
    the training codes (``self.codes``) and ``sample(n)`` decodes z ~ N(mean, diag(std^2)).
    Subclasses customise ``corrupt`` (input noise) and ``penalty`` (regulariser per example).
    """

    family = "autoencoder"
    kinds = ("image", "points")

    def __init__(self, config, data, code_dim: int):
        super().__init__(config, data)
        self.codes = RunningMoments(code_dim)

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def penalty(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor | None:
        """Regulariser per example (B,); None (no regulariser) by default."""
        return None

    def forward(self, batch, update="model"):
        x = batch["x"]
        z = self.encoder(self.corrupt(x))  # (B, d)
        self.codes.update(z)
        rec = reconstruction_loss(self.decoder(z), x, self.data, self.config.loss)  # (B,)
        pen = self.penalty(x, z)  # (B,) or None
        if pen is None:
            return {"loss": rec.mean()}
        return {"loss": (rec + pen).mean(), "reconstruction": rec.mean(), "penalty": pen.mean()}

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return to_data(self.decoder(z), self.data)

    @torch.no_grad()
    def sample(self, n, y=None):
        return self.decode(self.codes.sample(n))

    @torch.no_grad()
    def figures(self, data) -> dict:
        """Reconstructions next to inputs; for 2-D codes a latent scatter; for images an interpolation grid."""
        x = data.x[:32]
        rec = self.decode(self.encode(x))
        if data.spec.kind != "image":
            out = {"reconstructions": scatter(rec, reference=x)}
        else:
            out = {"reconstructions": grid(torch.stack([x, rec], 1).flatten(0, 1)),  # input, reconstruction, ...
                   "interpolation": grid(interpolate(self, data.x[:8], data.x[8:16]))}
        z = self.encode(data.x)  # (N, d)
        if z.shape[1] == 2:
            out["latent"] = latent_scatter(z, data.y)
        return out


def interpolate(model, a: torch.Tensor, b: torch.Tensor, steps: int = 8) -> torch.Tensor:
    """Decoded codes on the segments from encode(a) to encode(b): (len(a) * steps, *shape), row by row."""
    za, zb = model.encode(a), model.encode(b)  # (n, d)
    t = torch.linspace(0, 1, steps, device=za.device).view(1, steps, 1)
    z = (1 - t) * za[:, None] + t * zb[:, None]  # (n, steps, d)
    return model.decode(z.flatten(0, 1))


def latent_scatter(z: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """2-D codes (N, 2) coloured by class (N,) -> uint8 image (H, W, 3)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 4), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(*z.detach().float().cpu().T.numpy(), s=3, c=y.cpu().numpy(), cmap="tab10", vmin=0, vmax=9)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
