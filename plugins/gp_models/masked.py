"""Masked convolutions of the autoregressive image models (van den Oord, Kalchbrenner,
Kavukcuoglu 2016, "Pixel Recurrent Neural Networks", ICML, section 3.4).

An output at a pixel sees the pixels before it in raster order and, at the pixel itself,
the colours before its own (mask A, the first layer) or up to its own (mask B, later
layers): R, then G given R, then B given R and G. Feature channels are split in three
colour groups for this (one group on grey images).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def channel_groups(n: int, colours: int, chunks: int = 1) -> torch.Tensor:
    """Colour (0=R, 1=G, 2=B) of each of ``n`` feature channels made of ``chunks`` equal chunks, (n,)."""
    per = n // chunks
    return torch.arange(n) % per * colours // per


def causal_mask(kernel, centre, kind: str, in_groups, out_groups) -> torch.Tensor:
    """(out, in, kh, kw) mask: taps before the centre in raster order, and at the centre the
    input colours before (mask A) or up to (mask B) the output's colour."""
    rows, cols = torch.arange(kernel[0])[:, None], torch.arange(kernel[1])[None, :]
    before = (rows < centre[0]) | ((rows == centre[0]) & (cols < centre[1]))  # (kh, kw)
    at = (rows == centre[0]) & (cols == centre[1])
    seen = out_groups[:, None] > in_groups[None, :] if kind == "A" else out_groups[:, None] >= in_groups[None, :]
    return (before | (at & seen[:, :, None, None])).float()


class MaskedConv2d(nn.Conv2d):
    """Convolution whose output at a pixel sees earlier pixels and, at the pixel itself, earlier
    colours (mask A) or earlier-or-same colours (mask B). The output is aligned with ``centre``."""

    def __init__(self, cin, cout, kernel, kind: str, colours: int, centre=None, out_chunks: int = 1):
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        ci, cj = centre or (kh // 2, kw // 2)
        super().__init__(cin, cout, (kh, kw))
        self.pad = (cj, kw - 1 - cj, ci, kh - 1 - ci)  # left, right, top, bottom
        groups = channel_groups(cin, colours), channel_groups(cout, colours, out_chunks)
        self.register_buffer("mask", causal_mask((kh, kw), (ci, cj), kind, *groups), persistent=False)

    def forward(self, x):  # (B, cin, H, W) -> (B, cout, H, W)
        left, right, top, bottom = self.pad
        if left == right and top == bottom:
            return F.conv2d(x, self.weight * self.mask, self.bias, padding=(top, left))
        return F.conv2d(F.pad(x, self.pad), self.weight * self.mask, self.bias)


def shift_down(x):
    """Move every row one down (zeros in the top row), (B, C, H, W)."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def output_head(width: int, colours: int, k: int) -> nn.Sequential:
    """ReLU, 1x1 mask-B conv, ReLU, 1x1 mask-B conv to ``k`` logits per colour: (B, colours*k, H, W)."""
    return nn.Sequential(nn.ReLU(), MaskedConv2d(width, width, 1, "B", colours),
                         nn.ReLU(), MaskedConv2d(width, colours * k, 1, "B", colours))
