"""Sample-based metrics on feature vectors (real features first, generated second).

- Fréchet distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule"):
  ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)); biased in N, so N is fixed.
- KID (Binkowski et al. 2018, "Demystifying MMD GANs"): unbiased MMD^2 with the cubic
  kernel (x.y/d + 1)^3, mean and standard deviation over 100 subsets of 1,000.
- Classifier score (the Inception score of Salimans et al. 2016 with our classifier):
  exp(E_x KL(p(y|x) || p(y))).
- Improved precision and recall (Kynkaanniemi et al. 2019): k-NN balls around each set.
- 1-NN two-sample test (Lopez-Paz and Oquab 2017): leave-one-out 1-NN accuracy.

Precision, recall and 1-NN share one pass over the distances (:func:`neighbours`); the real
set's neighbourhoods (:class:`Manifold`) do not depend on the model and are cached.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FD between Gaussians fitted to (N, d) and (M, d) features, in float64.

    Tr((S_r S_g)^(1/2)) = Tr((S_r^(1/2) S_g S_r^(1/2))^(1/2)), a symmetric PSD matrix, so
    scipy's ``eigh`` gives it stably even when ReLU features make a covariance singular.
    """
    from scipy import linalg

    a, b = real.double().numpy(), fake.double().numpy()
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = linalg.eigh(s1)
    root = (v * np.sqrt(w.clip(0))) @ v.T  # S_r^(1/2)
    tr_covmean = np.sqrt(linalg.eigvalsh(root @ s2 @ root).clip(0)).sum()
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def kid(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Mean and std of unbiased MMD^2 (cubic polynomial kernel) over random subsets."""
    g = torch.Generator().manual_seed(seed)
    a, b = real.float(), fake.float()
    m = min(size, len(a), len(b))
    values = []
    for _ in range(subsets):
        x, y = a[torch.randperm(len(a), generator=g)[:m]], b[torch.randperm(len(b), generator=g)[:m]]
        values.append(_mmd2_unbiased(cubic_kernel(x, x), cubic_kernel(y, y), cubic_kernel(x, y)))
    return float(np.mean(values)), float(np.std(values))


def cubic_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(x.y / d + 1)^3 for rows of x (m, d) and y (m', d): (m, m'), summed later in float64."""
    return (x @ y.T / x.shape[1] + 1).pow(3).double()


def _mmd2_unbiased(kxx: torch.Tensor, kyy: torch.Tensor, kxy: torch.Tensor) -> float:
    m = len(kxx)
    off = lambda k: (k.sum() - k.diagonal().sum()) / (m * (m - 1))  # noqa: E731
    return float(off(kxx) + off(kyy) - 2 * kxy.mean())


def classifier_score(probs: torch.Tensor) -> float:
    """exp(mean_x KL(p(y|x) || p(y))) from class probabilities (N, C); between 1 and C."""
    p = probs.double().clamp_min(1e-12)
    marginal = p.mean(0, keepdim=True)  # (1, C)
    kl = (p * (p.log() - marginal.log())).sum(1)  # (N,)
    return float(kl.mean().exp())


def class_histogram(probs: torch.Tensor) -> torch.Tensor:
    """Share of examples predicted as each class, (C,)."""
    counts = torch.bincount(probs.argmax(1), minlength=probs.shape[1]).double()
    return counts / counts.sum()


def class_coverage(probs: torch.Tensor, share: float = 0.25) -> float:
    """Share of classes predicted for at least ``share`` of their uniform share 1/C."""
    hist = class_histogram(probs)
    return float((hist >= share / len(hist)).double().mean())


def sq_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances of rows, (m, d) x (n, d) -> (m, n), through one matrix product."""
    return (a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1) - 2 * a @ b.T).clamp_min_(0)


@dataclasses.dataclass
class Manifold:
    """A feature set (N, d) with the squared distances to its ``k_max`` nearest other rows."""

    x: torch.Tensor
    knn: torch.Tensor  # (N, k_max), ascending

    def radii2(self, ks: tuple[int, ...]) -> torch.Tensor:
        """Squared k-NN radius of every row for each k: (K, N)."""
        return self.knn[:, [min(k, self.knn.shape[1]) - 1 for k in ks]].T


def manifold(x: torch.Tensor, k_max: int = 10, chunk: int = 1024) -> Manifold:
    """k-NN distances of each row among the others (itself left out by index, not by value)."""
    x = x.float()
    parts = []
    for i in range(0, len(x), chunk):
        d = sq_distances(x[i:i + chunk], x)  # (m, N)
        d[torch.arange(len(d)), torch.arange(i, i + len(d))] = float("inf")
        parts.append(d.topk(min(k_max, len(x) - 1), 1, largest=False).values)
    return Manifold(x, torch.cat(parts))


def neighbours(real: Manifold, fake: Manifold, ks: tuple[int, ...] = (3,), chunk: int = 1024) -> dict:
    """Improved precision/recall for each k and the leave-one-out 1-NN accuracy, from one pass
    over the real-fake distances. A point counts as inside a ball on the ball's edge."""
    r_real, r_fake = real.radii2(ks), fake.radii2(ks)  # (K, Nr), (K, Nf)
    precision = torch.zeros(len(ks), len(fake.x), dtype=torch.bool)
    recall = torch.zeros(len(ks), len(real.x), dtype=torch.bool)
    fake_to_real, real_to_fake = torch.empty(len(fake.x)), torch.full((len(real.x),), float("inf"))
    for i in range(0, len(fake.x), chunk):
        d = sq_distances(fake.x[i:i + chunk].float(), real.x)  # (m, Nr)
        precision[:, i:i + len(d)] = (d.unsqueeze(0) <= r_real.unsqueeze(1)).any(2)
        recall |= (d.unsqueeze(0) <= r_fake[:, i:i + len(d)].unsqueeze(2)).any(1)
        fake_to_real[i:i + len(d)] = d.min(1).values
        real_to_fake = torch.minimum(real_to_fake, d.min(0).values)
    right = torch.cat([real.knn[:, 0] < real_to_fake, fake.knn[:, 0] < fake_to_real])  # nearest other point: same set
    return {"pr": {k: (float(p), float(r)) for k, p, r in zip(ks, precision.double().mean(1), recall.double().mean(1))},
            "1nn": float(right.double().mean())}


def precision_recall(real: torch.Tensor, fake: torch.Tensor, ks: tuple[int, ...] = (3,)) -> dict[int, tuple[float, float]]:
    """k -> (precision, recall): fake inside the real manifold, real inside the fake one."""
    return neighbours(manifold(real, max(ks)), manifold(fake, max(ks)), ks)["pr"]


def one_nn_accuracy(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Leave-one-out 1-NN accuracy of telling real from generated; 0.5 is ideal."""
    return neighbours(manifold(real, 1), manifold(fake, 1))["1nn"]
