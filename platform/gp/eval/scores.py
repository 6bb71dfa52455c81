"""One function per metric name: the run's values and, beside them, the real-data floor.

Generated samples are compared with n test images; the floor compares n training images
with the same test images (the best a model can hope for at this sample count). Floors
and Parzen baselines depend only on the data, features and n, so they are cached.
"""
from __future__ import annotations

import dataclasses
import functools

import torch

from gp.eval import metrics as M
from gp.eval.sampling import Draw

PR_KS = (1, 2, 3, 5, 10)


@dataclasses.dataclass
class Context:
    """Everything a metric may need; real-data features are computed on first use."""

    model: object
    payload: dict
    draw: Draw
    train: object  # Dataset: the full training split
    test: object  # Dataset: the test split
    n: int
    seed: int
    featurize: object  # x -> (features, probs)
    cache_key: dict
    k: int | None = None
    classifier: dict | None = None
    mixture: str | None = None  # toy2d kind (ring or grid)

    @functools.cached_property
    def real(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.featurize(self.test.x[:self.n])

    @functools.cached_property
    def floor_set(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.featurize(self.train.x[:self.n])

    def floor(self, name: str, compute) -> dict:
        from gp.eval.store import cached

        return cached({**self.cache_key, "floor": name}, compute)


def fid(ctx: Context) -> dict:
    out = {"fid": M.frechet_distance(ctx.real[0], ctx.draw.features)}
    return out | ctx.floor("fid", lambda: {"fid_floor": M.frechet_distance(ctx.real[0], ctx.floor_set[0])})


def kid(ctx: Context) -> dict:
    mean, std = M.kid(ctx.real[0], ctx.draw.features, seed=ctx.seed)

    def floor():
        m, s = M.kid(ctx.real[0], ctx.floor_set[0], seed=ctx.seed)
        return {"kid_floor": m, "kid_floor_std": s}
    return {"kid": mean, "kid_std": std} | ctx.floor("kid", floor)


def cs(ctx: Context) -> dict:
    probs = ctx.draw.probs
    out = {"classifier_score": M.classifier_score(probs), "class_coverage": M.class_coverage(probs)}
    real = ctx.real[1]
    return out | {"classifier_score_real": M.classifier_score(real), "class_coverage_real": M.class_coverage(real)}


def _pr_values(curve: dict, suffix: str = "") -> dict:
    out = {"precision" + suffix: curve[3][0], "recall" + suffix: curve[3][1]}
    for k, (p, r) in curve.items():
        out |= {f"precision_k{k}{suffix}": p, f"recall_k{k}{suffix}": r}
    return out


def pr(ctx: Context) -> dict:
    out = _pr_values(M.precision_recall(ctx.real[0], ctx.draw.features, PR_KS))
    return out | ctx.floor("pr", lambda: _pr_values(M.precision_recall(ctx.real[0], ctx.floor_set[0], PR_KS), "_floor"))


def one_nn(ctx: Context) -> dict:
    out = {"1nn_accuracy": M.one_nn_accuracy(ctx.real[0], ctx.draw.features)}
    return out | ctx.floor("1nn", lambda: {"1nn_floor": M.one_nn_accuracy(ctx.real[0], ctx.floor_set[0])})


def parzen(ctx: Context) -> dict:
    from gp.eval import parzen as P

    train, valid = ctx.train.x[:-1000], ctx.train.x[-1000:]  # 1,000 validation images (Goodfellow)
    got = P.parzen(ctx.draw.x, valid, ctx.test.x)
    out = {"parzen_ll": got["ll"], "parzen_se": got["se"], "parzen_sigma": got["sigma"]}
    return out | ctx.floor("parzen", lambda: P.baselines(train, valid, ctx.test.x, len(ctx.draw.x), ctx.seed))


def nll(ctx: Context) -> dict:
    from gp.eval.likelihood import likelihood

    return likelihood(ctx.model, ctx.test.x[:ctx.n], k=ctx.k)


def recon(ctx: Context) -> dict:
    from gp.eval.likelihood import reconstruction

    return reconstruction(ctx.model, ctx.test.x[:ctx.n])


def gan_test(ctx: Context) -> dict:
    from gp.eval.conditional import gan_test as score

    return {"gan_test": score(ctx.draw.probs, ctx.draw.y), "gan_test_real": ctx.classifier["accuracy"]}


def gan_train(ctx: Context) -> dict:
    from gp.eval.conditional import gan_train as score

    classes, test = ctx.model.data.num_classes, ctx.test
    out = {"gan_train": score(ctx.draw.x, ctx.draw.y, test.x, test.y, classes)}
    real = lambda: {"gan_train_real": score(ctx.train.x[:ctx.n], ctx.train.y[:ctx.n], test.x, test.y, classes)}  # noqa: E731
    return out | ctx.floor("gan-train", real)


def modes(ctx: Context) -> dict:
    from gp.eval.modes import mixture, mode_stats

    centres, std = mixture(ctx.mixture)
    out = mode_stats(ctx.draw.x, centres, std)
    real = mode_stats(ctx.test.x[:ctx.n], centres, std)
    return out | {f"{k}_real": v for k, v in real.items() if k != "modes_total"}


SCORES = {"fid": fid, "kid": kid, "cs": cs, "pr": pr, "1nn": one_nn, "parzen": parzen, "nll": nll,
          "recon": recon, "gan-test": gan_test, "gan-train": gan_train, "modes": modes}
