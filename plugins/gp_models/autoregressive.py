"""Shared machinery of the autoregressive image models (van den Oord, Kalchbrenner, Kavukcuoglu
2016, "Pixel Recurrent Neural Networks", ICML; van den Oord et al. 2016, "Conditional Image
Generation with PixelCNN Decoders", NeurIPS).

p(x) = prod_i p(x_i | x_<i) over pixels in raster order and, within a pixel, R, then G given R,
then B given R and G (PixelRNN section 3.4): :class:`MaskedConv2d` splits its channels in three
colour groups, with masks A (a colour does not see itself) and B (it does, in later layers)
(:mod:`gp_models.masked`). Data are
discretised: ``output=softmax`` quantises [0, 1] to 8 bits and predicts a 256-way softmax
per channel; ``output=bernoulli`` binarises at 0.5 (``x > 0.5`` -> 1, deterministically)
and predicts one Bernoulli logit per channel. :class:`Autoregressive` owns the exact
``log_prob`` (nats per example), the loss and the pixel-by-pixel sampler.
"""
from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from gp.model import GenerativeModel, ModelConfig
from gp.render import grid


@contextlib.contextmanager
def one_cpu_thread(device):
    """Run the many tiny operations of pixel-by-pixel sampling on one CPU thread (several times
    faster than more threads here); restore the thread count afterwards."""
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class AutoregressiveConfig(ModelConfig):
    output: str = Field("softmax", pattern="^(softmax|bernoulli)$",
                        description="softmax: 256-way per channel on 8-bit data; bernoulli: data binarised at 0.5")
    conditional: bool = Field(False, description="learn a class-conditional bias; sample(n, y) honours y")
    label_drop: float = Field(0.1, ge=0, le=1,
                              description="conditional only: share of training labels hidden, to also learn p(x)")


class Autoregressive(GenerativeModel):
    """Base of PixelCNN and PixelRNN. Subclasses build ``trunk(v, labels)`` -> (B, F, H, W)
    (the input ``v`` is the discretised image scaled to [-1, 1]) and ``head`` (1x1 layers)."""

    family = "autoregressive"
    log_prob_exact = True
    channels_last = False  # masked weights are rebuilt every step; no gain measured (docs/performance.md)
    conditional = True  # capable; an instance honours y only if config.conditional

    def __init__(self, config, data):
        super().__init__(config, data)
        self.levels = 2 if config.output == "bernoulli" else 256
        self.k = 1 if config.output == "bernoulli" else 256  # logits per channel

    @property
    def is_conditional(self):
        return self.config.conditional

    def label_embedding(self, width: int) -> nn.Embedding:
        """A per-class bias of ``width`` channels; the last row is 'no label'."""
        return nn.Embedding(self.data.num_classes + 1, width)

    def labels(self, y, n: int) -> torch.Tensor:
        """(n,) class indices, ``num_classes`` for 'no label' (y None or -1, or unconditional)."""
        none = torch.full((n,), self.data.num_classes, dtype=torch.long, device=self.device)
        if y is None or not self.is_conditional:
            return none
        y = y.to(self.device).long()
        return torch.where(y < 0, none, y)

    def discretise(self, x) -> torch.Tensor:
        """[0, 1] images -> levels 0..levels-1 as floats, (B, C, H, W)."""
        return (x > 0.5).float() if self.levels == 2 else (x * 255).round().clamp(0, 255)

    def net_input(self, t) -> torch.Tensor:
        return t * (2 / (self.levels - 1)) - 1

    def logits(self, v, labels) -> torch.Tensor:
        """Logits of every channel of every pixel, (B, k, C, H, W)."""
        return self.split(self.head(self.trunk(v, labels)))

    def split(self, out) -> torch.Tensor:  # (B, C*k, H, W) -> (B, k, C, H, W)
        return out.unflatten(1, (self.data.shape[0], self.k)).transpose(1, 2)

    def log_lik(self, logits, t) -> torch.Tensor:
        """log p(t) in nats per example (B,) from logits (B, k, C, H, W) and levels t (B, C, H, W)."""
        if self.k == 1:
            ll = -F.binary_cross_entropy_with_logits(logits[:, 0], t, reduction="none")
        else:
            ll = -F.cross_entropy(logits, t.long(), reduction="none")
        return ll.flatten(1).sum(1)

    def nll(self, x, y=None) -> torch.Tensor:
        t = self.discretise(x)
        return -self.log_lik(self.logits(self.net_input(t), self.labels(y, len(x))), t)

    def forward(self, batch, update="model"):
        x, y = batch["x"], batch["y"]
        if self.is_conditional and self.training:  # hide some labels so p(x) is learned too
            y = torch.where(torch.rand(len(y), device=y.device) < self.config.label_drop, -1, y)
        nll = self.nll(x, y)  # (B,)
        return {"loss": nll.mean(), "bits_per_dim": nll.mean() / (self.data.dim * math.log(2))}

    @torch.no_grad()
    def log_prob(self, x, y=None):
        """Exact log p(x) (or log p(x | y)) of the discretised images, nats per example (B,)."""
        return -self.nll(x, y)

    @torch.no_grad()
    def sample(self, n, y=None):
        return self.complete(torch.zeros(n, *self.data.shape, device=self.device), y)

    @torch.no_grad()
    def complete(self, x, y=None, start: int = 0) -> torch.Tensor:
        """Keep the first ``start`` pixels (raster order) of ``x`` (B, C, H, W); sample the rest."""
        t = self.discretise(x)
        v, labels, cache = self.net_input(t), self.labels(y, len(x)), {}
        colours, _, width = self.data.shape
        with one_cpu_thread(t.device):
            for p in range(start, t[0, 0].numel()):
                i, j = divmod(p, width)
                for c in range(colours):
                    t[:, c, i, j] = self.draw(self.logits_at(v, labels, i, j, cache)[:, :, c])
                    v[:, c, i, j] = self.net_input(t[:, c, i, j])
        return t / (self.levels - 1)

    def logits_at(self, v, labels, i: int, j: int, cache: dict) -> torch.Tensor:
        """Logits (B, k, C) of pixel (i, j) while sampling: here one pass over rows 0..i (no output
        sees a row below its own); subclasses recompute less, keeping what they like in ``cache``."""
        feats = self.trunk(v[:, :, :i + 1], labels)  # (B, F, i + 1, W)
        return self.split(self.head(feats[:, :, -1:, j:j + 1]))[..., 0, 0]

    def draw(self, logits) -> torch.Tensor:
        """One level per row of logits (B, k), as floats (B,)."""
        if self.k == 1:
            return torch.bernoulli(torch.sigmoid(logits[:, 0]))
        return torch.multinomial(torch.softmax(logits, 1), 1)[:, 0].float()

    @torch.no_grad()
    def figures(self, data):
        """Completions of held-out images whose bottom half is removed: a grid whose rows are
        the originals, the occluded inputs, then independent completions."""
        n = 6
        x, y = data.x[:n].to(self.device), data.y[:n].to(self.device)
        shown = self.discretise(x) / (self.levels - 1)
        rows, width = self.data.shape[1:]
        occluded = shown.clone()
        occluded[:, :, rows // 2:] = 0.5
        done = self.complete(x.repeat(n - 2, 1, 1, 1), y.repeat(n - 2), start=rows // 2 * width)
        return {"completions": grid(torch.cat([shown, occluded, done]))}
