"""Likelihood and reconstruction of held-out data, for models that can compute them.

``model.log_prob(x)`` gives nats per example: exact (``log_prob_exact``, e.g. PixelCNN) or
a lower bound such as the IWAE bound with k importance samples (Burda et al. 2016,
"Importance Weighted Autoencoders"): such a model takes ``log_prob(x, k=None)`` and names its
default k in ``log_prob_k`` (see gp.model). Bits per dimension = NLL / (D ln 2).

Beside it, the floor any image model must beat: an independent categorical per pixel fitted
to the training set (add-one smoothing), ``bits_per_dim_independent``, on the data as the
model discretises it (``model.discretise`` and ``model.levels``: 2 for data binarised at
0.5, 256 for 8 bits). A model that scores continuous grey levels with Bernoulli outputs
(a VAE) has no such levels; it is also scored on the test set binarised at 0.5
(``nll_binary_nats``), the binarisation the autoregressive models use, against the
2-level floor, so every likelihood model has one number on the same data.
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


def discretisation(model) -> tuple[int, object]:
    """(levels, x -> integer levels) of the model's data: its own, else binarised at 0.5."""
    levels, discretise = getattr(model, "levels", None), getattr(model, "discretise", None)
    if levels and discretise is not None:
        return int(levels), lambda x: discretise(x).long()
    return 2, lambda x: (x > 0.5).long()


def independent_bits(train: torch.Tensor, test: torch.Tensor, levels: int) -> float:
    """Bits/dim on ``test`` of independent per-dimension categoricals fitted to ``train``
    (integer levels, same shape after the first axis), add-one smoothed."""
    a, b = train.flatten(1), test.flatten(1)
    counts = torch.ones(a.shape[1], levels, dtype=torch.float64)
    counts.scatter_add_(1, a.T.contiguous(), torch.ones(a.shape[1], len(a), dtype=torch.float64))
    logp = (counts / counts.sum(1, keepdim=True)).log()  # (D, levels)
    nats = -logp.gather(1, b.T.contiguous()).sum(0).mean()  # per example
    return float(nats / (a.shape[1] * math.log(2)))


@torch.no_grad()
def binary_likelihood(model, x: torch.Tensor, k: int | None = None) -> dict:
    """Test NLL of a continuous-Bernoulli scorer (no levels of its own) on x binarised at 0.5."""
    if getattr(model, "levels", None):
        return {}
    got = likelihood(model, (x > 0.5).to(x.dtype), k=k)
    return {"nll_binary_nats": got["nll_nats"], "bits_per_dim_binary": got["bits_per_dim"]}


@torch.no_grad()
def reconstruction(model, x: torch.Tensor, batch: int = 1000) -> dict:
    """Mean squared error per dimension of decode(encode(x)) on held-out data."""
    err = 0.0
    for i in range(0, len(x), batch):
        chunk = x[i:i + batch]
        err += float((model.decode(model.encode(chunk)) - chunk).pow(2).flatten(1).mean(1).sum())
    return {"recon_mse": err / len(x)}
