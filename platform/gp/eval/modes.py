"""Mode coverage on 2-D Gaussian mixtures (ring of 8, grid of 25), the protocol of VEEGAN
(Srivastava et al. 2017) and PacGAN (Lin et al. 2018).

A sample is high quality when it lies within 3 standard deviations of a mode centre (98.9%
of a 2-D Gaussian's samples); a
mode is captured when it receives at least ``min_share`` of its uniform share of the
samples (PacGAN: 20 of 2,500 samples over 25 modes, i.e. 0.2). ``modes_hit`` is the count of
PacGAN's official code (pacgan/extensions.py, MetricLogger): modes with at least one
high-quality sample among the first 2,500 (its figure's samples). Reverse KL is
KL(mode histogram of high-quality samples || uniform). A dataset declares its modes
(:class:`gp.data.spec.Modes`); the toy2d ring and grid do.
"""
from __future__ import annotations

import math

import torch

HIT_N = 2500  # PacGAN's code: modes hit by the 2,500 samples of its figure


def mode_stats(points: torch.Tensor, centres: torch.Tensor, std: float, min_share: float = 0.2) -> dict:
    """modes captured (of M), modes hit, share of high-quality samples, reverse KL to uniform (nats)."""
    dist = torch.cdist(points.float(), centres.float())  # (n, M)
    nearest, mode = dist.min(1)
    good = nearest <= 3 * std
    counts = torch.bincount(mode[good], minlength=len(centres)).double()  # (M,)
    captured = int((counts >= min_share * len(points) / len(centres)).sum())
    hist = counts / counts.sum().clamp_min(1)
    nz = hist > 0
    rkl = float((hist[nz] * (hist[nz] * len(centres)).log()).sum()) if nz.any() else math.inf
    hit = torch.unique(mode[:HIT_N][good[:HIT_N]]).numel()
    return {"modes_captured": float(captured), "modes_total": float(len(centres)), "modes_hit": float(hit),
            "hq_fraction": float(good.double().mean()), "reverse_kl": rkl}
