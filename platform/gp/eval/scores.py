"""One function per metric name: the run's values and, beside them, the real-data floor.

Generated samples are compared with n test images; the floor compares n training images
with the same test images (the best a model can hope for at this sample count). Floors,
Parzen baselines, the test images' features and their k-NN radii depend only on the data,
the features and n, so they are cached (:mod:`gp.eval.store`).
"""
from __future__ import annotations

import dataclasses
import functools

import torch

from gp.eval import metrics as M
from gp.eval.sampling import Draw

PR_KS = (1, 3, 10)  # the precision-recall curve of the figure; k = 3 is the metric


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
    labelled: tuple[int, int] | None = None  # the run's data.labelled and data.label_seed: the labels it kept

    @functools.cached_property
    def real(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features and class probabilities of the first n test images (cached on disk)."""
        from gp.eval.store import cached_tensors

        got = cached_tensors({**self.cache_key, "set": "test"}, lambda: self.featurize(self.test.x[:self.n]))
        return tuple(got)

    @functools.cached_property
    def real_manifold(self) -> M.Manifold:
        from gp.eval.store import cached_tensors

        knn = cached_tensors({**self.cache_key, "set": "test-knn"}, lambda: M.manifold(self.real[0], max(PR_KS)).knn)
        return M.Manifold(self.real[0], knn)

    @functools.cached_property
    def floor_set(self) -> torch.Tensor:
        """Features of the first n training images (only while a floor is not cached)."""
        return self.featurize(self.train.x[:self.n])[0]

    @functools.cached_property
    def neighbours(self) -> dict:
        return M.neighbours(self.real_manifold, M.manifold(self.draw.features, max(PR_KS)), PR_KS)

    def floor(self, name: str, compute) -> dict:
        from gp.eval.store import cached

        return cached({**self.cache_key, "floor": name}, compute)


def fid(ctx: Context) -> dict:
    out = {"fid": M.frechet_distance(ctx.real[0], ctx.draw.features)}
    return out | ctx.floor("fid", lambda: {"fid_floor": M.frechet_distance(ctx.real[0], ctx.floor_set)})


def kid(ctx: Context) -> dict:
    mean, std = M.kid(ctx.real[0], ctx.draw.features, seed=ctx.seed)

    def floor():
        m, s = M.kid(ctx.real[0], ctx.floor_set, seed=ctx.seed)
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


def _floor_neighbours(ctx: Context) -> dict:
    got = M.neighbours(ctx.real_manifold, M.manifold(ctx.floor_set, max(PR_KS)), PR_KS)
    return _pr_values(got["pr"], "_floor") | {"1nn_floor": got["1nn"]}


def pr(ctx: Context) -> dict:
    floor = ctx.floor(f"neighbours{PR_KS}", lambda: _floor_neighbours(ctx))
    return _pr_values(ctx.neighbours["pr"]) | {k: v for k, v in floor.items() if k != "1nn_floor"}


def one_nn(ctx: Context) -> dict:
    floor = ctx.floor(f"neighbours{PR_KS}", lambda: _floor_neighbours(ctx))
    return {"1nn_accuracy": ctx.neighbours["1nn"], "1nn_floor": floor["1nn_floor"]}


def parzen(ctx: Context) -> dict:
    from gp.eval import parzen as P

    train, valid = ctx.train.x[:-1000], ctx.train.x[-1000:]  # 1,000 validation images (Goodfellow)
    got = P.parzen(ctx.draw.x, valid, ctx.test.x)
    out = {"parzen_ll": got["ll"], "parzen_se": got["se"], "parzen_sigma": got["sigma"]}
    return out | ctx.floor("parzen", lambda: P.baselines(train, valid, ctx.test.x, len(ctx.draw.x), ctx.seed))


def nll(ctx: Context) -> dict:
    """Test NLL; for images also the independent per-pixel floor (and, for a model without
    levels of its own, its NLL on the test set binarised at 0.5): see gp.eval.likelihood."""
    from gp.eval import likelihood as L

    x = ctx.test.x[:ctx.n]
    out = L.likelihood(ctx.model, x, k=ctx.k)
    if ctx.model.data.kind != "image":
        return out
    levels, discretise = L.discretisation(ctx.model)
    floor = ctx.floor(f"independent-{levels}", lambda: {
        "bits_per_dim_independent": L.independent_bits(discretise(ctx.train.x), discretise(x), levels)})
    return out | L.binary_likelihood(ctx.model, x.to(ctx.model.device), k=ctx.k) | floor


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
    from gp.eval.modes import mode_stats

    centres, std = ctx.test.modes.centres, ctx.test.modes.std  # declared by the dataset
    out = mode_stats(ctx.draw.x, centres, std)
    real = mode_stats(ctx.test.x[:ctx.n], centres, std)
    return out | {f"{k}_real": v for k, v in real.items() if k != "modes_total"}


def accuracy(ctx: Context) -> dict:
    """Test accuracy of the model's own ``classify`` on the whole test set; beside it, with
    ``data.labelled=N``, the reference CNN and the model's own classifier network, each trained
    from scratch on the same N labels only."""
    from gp.eval.conditional import labels_only, scratch_accuracy

    model, test = ctx.model, ctx.test
    x, y = test.x.to(model.device), test.y.to(model.device)
    right = sum(int((model.classify(x[i:i + 1000]) == y[i:i + 1000]).sum()) for i in range(0, len(x), 1000))
    out = {"accuracy": right / max(len(x), 1)}
    if ctx.labelled:
        (kept, seed), name = ctx.labelled, "labels-only-{}".format("-".join(map(str, ctx.labelled)))
        baseline = lambda: {"accuracy_labels_only": labels_only(ctx.train, test, kept, seed)}  # noqa: E731
        out |= ctx.floor(name, baseline)
        if callable(getattr(model, "class_logits", None)):
            out["accuracy_scratch"] = scratch_accuracy(model, ctx.train, test, kept, seed)
    return out


SCORES = {"fid": fid, "kid": kid, "cs": cs, "pr": pr, "1nn": one_nn, "parzen": parzen, "nll": nll,
          "recon": recon, "gan-test": gan_test, "gan-train": gan_train, "modes": modes, "accuracy": accuracy}
