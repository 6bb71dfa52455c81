"""Evaluating one run: load it, pick its metrics, draw samples, score, log into the run."""
from __future__ import annotations

import dataclasses
import time

import torch

from gp.errors import GpError, unknown


@dataclasses.dataclass
class Options:
    """``gp eval`` settings; ``metrics``, ``n``, ``seed`` and ``k`` come as key=value."""

    metrics: str | None = None
    n: int = 10_000
    seed: int = 0
    k: int | None = None  # importance samples of log_prob bounds (models that take k)
    local: bool = False
    address: str | None = None
    features: object = None  # "module:function" or a callable
    gpu: bool = False
    log: bool = True
    fresh: bool = False


KEYS = {"metrics": str, "n": int, "seed": int, "k": int}


def parse_options(pairs: list[str], **flags) -> Options:
    """``["metrics=fid,kid", "n=5000"]`` plus flags -> Options (one-line errors)."""
    values = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in KEYS:
            raise unknown("option", key, KEYS)
        try:
            values[key] = KEYS[key](value)
        except ValueError:
            raise GpError(f"bad value for '{key}': {value!r} (example: n=10000)") from None
    if values.get("n", 2) < 2:
        raise GpError("n must be at least 2")
    return Options(**values, **flags)


@dataclasses.dataclass
class Result:
    """What one evaluation produced (``reused``: taken from the run's earlier evaluation)."""

    run_id: str
    plugin: str
    dataset: str
    metrics: dict
    figures: dict
    seconds: float
    reused: bool = False


def evaluate(run_id: str, opts: Options, registry=None) -> Result:
    """Score one run with the metrics its model and data deserve; log them into the run."""
    from gp.eval import plan, reference, store
    from gp.plugins import load_registry

    t0 = time.time()
    registry = registry or load_registry()
    loaded = store.load_run(run_id, registry)
    model, data_cfg = loaded.model, loaded.data_cfg
    splits = reference.splits(registry, data_cfg)  # (train, test); test.modes when the data declare modes
    names = plan.resolve(opts.metrics, _capabilities(model), model.data.kind, splits[1].modes is not None)
    extractor, classifier = _extractor(registry, data_cfg, model, names, opts)
    step = int(loaded.payload.get("step") or 0)  # a resumed run's newer checkpoint is scored again
    signature = store.digest({"metrics": names, "n": opts.n, "seed": opts.seed, "k": opts.k, "features": extractor.name,
                              "step": step})
    earlier = None if opts.fresh else store.logged(loaded.run, signature)
    if earlier is not None:
        return Result(run_id, model.name, data_cfg.name, earlier, {}, time.time() - t0, reused=True)
    values, figures = _score(loaded, splits, names, opts, extractor, classifier, registry)
    if opts.log:
        tags = {"gp.eval.signature": signature, "gp.eval.features": extractor.name, "gp.eval.n": str(opts.n),
                "gp.eval.metrics": ",".join(names)}
        store.log_results(run_id, values, figures, tags, step=step)
    return Result(run_id, model.name, data_cfg.name, values, figures, time.time() - t0)


def _capabilities(model) -> list[str]:
    """The class's capabilities; ``conditional`` and ``classify`` only if this instance can."""
    from gp.model import capabilities

    instance = {"conditional": model.is_conditional, "classify": model.can_classify}
    return [c for c in capabilities(type(model)) if instance.get(c, True)]


def _extractor(registry, data_cfg, model, names: list[str], opts: Options):
    """The feature extractor and the reference classifier payload (None if not needed)."""
    from gp.eval.features import Extractor
    from gp.eval.plan import FEATURES, PROBABILITIES
    from gp.eval.reference import reference

    wanted = set(names)
    needs = bool(wanted & PROBABILITIES) or (opts.features is None and bool(wanted & FEATURES))
    if model.data.kind != "image" or not needs:
        return Extractor(None, opts.features), None
    if model.data.num_classes < 2:  # e.g. an image folder without class subfolders
        from gp.eval.plan import unlabelled

        raise unlabelled(data_cfg.name, names, opts.features)
    classifier = reference(registry, data_cfg, log=opts.log)
    return Extractor(classifier, opts.features), classifier


def _score(loaded, splits, names, opts: Options, extractor, classifier, registry) -> tuple[dict, dict]:
    """Draw the samples (if any metric needs them), run every metric, draw the figures."""
    from gp.eval import figures, reference, sampling, store
    from gp.eval.plan import SAMPLES
    from gp.eval.scores import SCORES, Context

    train, test = splits
    n = min(opts.n, len(train))  # the floor compares as many training images as samples
    executor = sampling.Executor(not opts.local, opts.address, opts.gpu)
    draw = _draw(executor, loaded, n, opts, extractor, registry) if SAMPLES & set(names) else None
    key = {"data": reference.data_identity(loaded.data_cfg), "features": extractor.name, "n": n, "seed": opts.seed}
    featurize = lambda x: sampling.featurize(executor, x, extractor)  # noqa: E731
    ctx = Context(loaded.model, loaded.payload, draw, train, test, n, opts.seed, featurize, key, opts.k, classifier,
                  store.labelled(loaded.run))
    values: dict = {"n": float(n)}
    with torch.no_grad():
        for name in names:
            values |= SCORES[name](ctx)
    return values, (figures.all_figures(ctx, values) if draw is not None else {})


def _draw(executor, loaded, n: int, opts: Options, extractor, registry):
    """n samples with features; class-balanced labels for conditional models."""
    from gp.eval import sampling
    from gp.eval.conditional import balanced_labels

    model = loaded.model
    labels = balanced_labels(n, model.data.num_classes) if model.is_conditional else None
    return sampling.draw(executor, loaded.payload, n, opts.seed, labels, extractor, opts.gpu, registry)
