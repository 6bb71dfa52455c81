"""Likelihood and reconstruction of held-out data, for models that can compute them.

``model.log_prob(x)`` gives nats per example: exact (``log_prob_exact``, e.g. PixelCNN) or
a lower bound such as the IWAE bound with k importance samples (Burda et al. 2016,
"Importance Weighted Autoencoders"): such a model takes ``log_prob(x, k=None)`` and names its
default k in ``log_prob_k`` (see gp.model). Bits per dimension = NLL / (D ln 2).
"""
from __future__ import annotations

import inspect
import math

import torch


@torch.no_grad()
def likelihood(model, x: torch.Tensor, k: int | None = None, batch: int = 500) -> dict:
    """Test NLL in nats and bits/dim (model and x on one device); ``nll_exact`` 1.0 or 0.0
    (a bound), ``nll_k`` the importance samples of a bound."""
    takes_k = "k" in inspect.signature(model.log_prob).parameters
    kwargs = {"k": k} if (k and takes_k) else {}
    lp = torch.cat([model.log_prob(x[i:i + batch], **kwargs).cpu() for i in range(0, len(x), batch)])
    nll = -float(lp.double().mean())
    out = {"nll_nats": nll, "bits_per_dim": nll / (x[0].numel() * math.log(2)),
           "nll_exact": float(bool(getattr(model, "log_prob_exact", False)))}
    used_k = k if kwargs else getattr(model, "log_prob_k", None)
    if used_k and not out["nll_exact"]:
        out["nll_k"] = float(used_k)
    return out


@torch.no_grad()
def reconstruction(model, x: torch.Tensor, batch: int = 1000) -> dict:
    """Mean squared error per dimension of decode(encode(x)) on held-out data."""
    err = 0.0
    for i in range(0, len(x), batch):
        chunk = x[i:i + batch]
        err += float((model.decode(model.encode(chunk)) - chunk).pow(2).flatten(1).mean(1).sum())
    return {"recon_mse": err / len(x)}
