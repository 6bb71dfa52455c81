"""Building blocks plugins share: MLPs and the data-space head for images or points."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def mlp(sizes: list[int], act: type[nn.Module] = nn.ReLU, final_act: nn.Module | None = None) -> nn.Sequential:
    """Linear layers ``sizes[0] -> ... -> sizes[-1]`` with ``act`` between them."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    if final_act is not None:
        layers.append(final_act)
    return nn.Sequential(*layers)


def to_data(out: torch.Tensor, spec) -> torch.Tensor:
    """Decoder output (B, D) -> data space (B, *shape): sigmoid for images, identity for points."""
    out = out.view(len(out), *spec.shape)
    return torch.sigmoid(out) if spec.kind == "image" else out


def recon_nll(out: torch.Tensor, x: torch.Tensor, spec) -> torch.Tensor:
    """Negative log-likelihood per example (B,), summed over dimensions.

    Images: Bernoulli with logits ``out`` (targets in [0, 1]); points: unit Gaussian
    up to a constant (half the squared error).
    """
    x = x.flatten(1)
    if spec.kind == "image":
        return F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1)
    return 0.5 * (out - x).pow(2).sum(1)


def gan_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Binary cross-entropy of discriminator ``logits`` against all-real or all-fake labels."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)
