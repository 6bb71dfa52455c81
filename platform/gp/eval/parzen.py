"""Parzen-window log-likelihood with Goodfellow et al.'s protocol (2014, "Generative
Adversarial Nets"; their ``parzen_ll.py``), and the two baselines of Theis, van den Oord
and Bethge (2016, "A note on the evaluation of generative models").

An isotropic Gaussian kernel on 10,000 samples: log p(x) = logmeanexp_i(-||x - mu_i||^2 /
2 sigma^2) - D log(sigma sqrt(2 pi)); sigma from logspace(-1, 0, 10) by mean log-likelihood
on 1,000 validation images; mean and standard error over the test set. Theis et al.: real
training data scores below a k-means model with 10,000 centroids, so the estimate is
always printed beside both baselines.
"""
from __future__ import annotations

import math

import numpy as np
import torch

SIGMAS = tuple(np.logspace(-1, 0, 10))


def log_density(x: torch.Tensor, centres: torch.Tensor, sigmas, chunk: int = 500) -> torch.Tensor:
    """Parzen log p of each row of x (N, D) for each sigma: (S, N) nats."""
    x, centres = x.flatten(1).float(), centres.flatten(1).float()
    dim, m = x.shape[1], len(centres)
    sig = torch.tensor(sigmas, dtype=torch.float64).view(-1, 1, 1)  # (S, 1, 1)
    out = []
    for i in range(0, len(x), chunk):
        sq = torch.cdist(x[i:i + chunk], centres).double().pow(2)  # (n, M), shared by every sigma
        lse = torch.logsumexp(-sq.unsqueeze(0) / (2 * sig**2), 2)  # (S, n)
        out.append(lse - math.log(m) - dim * torch.log(sig.view(-1, 1) * math.sqrt(2 * math.pi)))
    return torch.cat(out, 1)


def parzen(centres: torch.Tensor, valid: torch.Tensor, test: torch.Tensor, sigmas=SIGMAS) -> dict:
    """Choose sigma on ``valid``; mean log-likelihood and its standard error on ``test``."""
    best = int(log_density(valid, centres, sigmas).mean(1).argmax())
    ll = log_density(test, centres, [sigmas[best]])[0]  # (N,)
    return {"ll": float(ll.mean()), "se": float(ll.std() / math.sqrt(len(ll))), "sigma": float(sigmas[best])}


def kmeans_centres(x: torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    """``k`` k-means centroids of x (N, ...) (mini-batch k-means, random init: fast)."""
    from sklearn.cluster import MiniBatchKMeans

    k = min(k, len(x))
    km = MiniBatchKMeans(k, init="random", n_init=1, batch_size=max(4096, k), max_iter=3, random_state=seed)
    km.fit(x.flatten(1).numpy())
    return torch.from_numpy(km.cluster_centers_).float()


def baselines(train: torch.Tensor, valid: torch.Tensor, test: torch.Tensor, n: int, seed: int = 0) -> dict:
    """Parzen scores of n real training images and of n k-means centroids of the training set."""
    real = parzen(train[:n], valid, test)
    kmeans = parzen(kmeans_centres(train, n, seed), valid, test)
    return {"parzen_real_ll": real["ll"], "parzen_real_se": real["se"],
            "parzen_kmeans_ll": kmeans["ll"], "parzen_kmeans_se": kmeans["se"]}
