"""``gp eval RUN [metrics=fid,kid,pr,...] [n=10000]`` and ``gp eval --compare RUN1 RUN2 ...``.

Prints a table of every metric beside its real-data floor or baseline and logs the values
into the run as ``eval/<name>`` with figures. Only typer is imported at module level, so
``gp --help`` stays fast; the work happens in :mod:`gp.eval.runner`.
"""
from __future__ import annotations

import dataclasses
from typing import List, Optional

import typer


@dataclasses.dataclass(frozen=True)
class Row:
    """One table row: label, value key, optional spread key, floors (label, key), note."""

    label: str
    key: str
    short: str
    spread: str | None = None
    floors: tuple = ()
    note: str = ""


TRAIN, TEST = "train", "test"
ROWS = (
    Row("Fréchet distance", "fid", "FD", floors=((TRAIN, "fid_floor"),), note="classifier features, fixed n"),
    Row("KID", "kid", "KID", "kid_std", ((TRAIN, "kid_floor"),), "cubic kernel, 100 subsets of 1,000"),
    Row("classifier score", "classifier_score", "CS", floors=((TEST, "classifier_score_real"),),
        note="at most the number of classes"),
    Row("class coverage", "class_coverage", "cover", floors=((TEST, "class_coverage_real"),),
        note="classes with >= 1/4 of their share"),
    Row("precision (k=3)", "precision", "prec", floors=((TRAIN, "precision_floor"),), note="Kynkaanniemi et al. 2019"),
    Row("recall (k=3)", "recall", "recall", floors=((TRAIN, "recall_floor"),)),
    Row("1-NN accuracy", "1nn_accuracy", "1-NN", floors=((TRAIN, "1nn_floor"),), note="0.5 is ideal"),
    Row("Parzen log-lik (nats)", "parzen_ll", "Parzen", "parzen_se",
        (("real", "parzen_real_ll"), ("k-means", "parzen_kmeans_ll")), "sigma {parzen_sigma:.3g}; rewards the wrong things"),
    Row("test NLL (nats)", "nll_nats", "NLL", note="{nll_kind}"),
    Row("bits/dim", "bits_per_dim", "bpd"),
    Row("reconstruction MSE", "recon_mse", "MSE", note="per dimension, test set"),
    Row("GAN-test accuracy", "gan_test", "GAN-test", floors=(("classifier", "gan_test_real"),)),
    Row("GAN-train accuracy", "gan_train", "GAN-train", floors=(("real", "gan_train_real"),)),
    Row("test accuracy", "accuracy", "acc", floors=(("own classifier, labels alone", "accuracy_scratch"),
                                                    ("reference CNN, labels alone", "accuracy_labels_only")),
        note="the model's classify on the whole test set"),
    Row("modes captured", "modes_captured", "modes", floors=((TEST, "modes_captured_real"),), note="of {modes_total:.0f}"),
    Row("modes hit", "modes_hit", "hit", floors=((TEST, "modes_hit_real"),),
        note="at least one high-quality sample among 2,500 (PacGAN's code)"),
    Row("high-quality samples", "hq_fraction", "HQ", floors=((TEST, "hq_fraction_real"),), note="within 3 std of a mode"),
    Row("reverse KL to uniform", "reverse_kl", "rKL", floors=((TEST, "reverse_kl_real"),), note="nats"),
)


def _fmt(values: dict, key: str, spread: str | None = None) -> str:
    text = f"{values[key]:.4g}"
    return text + (f" ± {values[spread]:.2g}" if spread and spread in values else "")


def _note(row: Row, values: dict) -> str:
    extra = {"nll_kind": "exact" if values.get("nll_exact") else f"bound, k={values.get('nll_k', 0):.0f}"}
    try:
        return row.note.format_map({**values, **extra})
    except (KeyError, ValueError):
        return ""


def run_table(result) -> str:
    """metric | value | floor or baseline | note, for one evaluated run."""
    from gp.commands import table

    v = result.metrics
    rows = []
    for row in (r for r in ROWS if r.key in v):
        floors = ", ".join(f"{lab} {_fmt(v, k, k[:-3] + '_se' if k.endswith('_ll') else None)}"
                           for lab, k in row.floors if k in v)
        rows.append([row.label, _fmt(v, row.key, row.spread), floors or "-", _note(row, v)])
    how = "from its earlier evaluation" if result.reused else f"in {result.seconds:.1f}s"
    head = f"run {result.run_id} ({result.plugin} on {result.dataset}, n={v.get('n', 0):.0f}) scored {how}"
    return head + "\n" + table(["metric", "value", "floor / baseline", "note"], rows)


def compare_table(results: list) -> str:
    """One row per run, one column per metric any run has; last row: the floors."""
    from gp.commands import table

    cols = [r for r in ROWS if any(r.key in res.metrics for res in results)]
    rows = [[res.run_id[:12], res.plugin, res.dataset, *(_cell(res.metrics, c.key) for c in cols)] for res in results]
    rows.append(["floor", "", "", *(_floor(results, c) for c in cols)])
    return table(["run", "plugin", "data", *(c.short for c in cols)], rows)


def _cell(values: dict, key: str) -> str:
    return _fmt(values, key) if key in values else "-"


def _floor(results: list, row: Row) -> str:
    """The column's first floor, from the first run that has it."""
    keys = [k for _, k in row.floors[:1]]
    return next((_cell(res.metrics, k) for res in results for k in keys if k in res.metrics), "-")


def eval_command(
    args: List[str] = typer.Argument(..., help="RUN [RUN ...] then key=value: metrics=fid,kid,pr,... n=10000 seed=0 k=K"),
    compare: bool = typer.Option(False, "--compare", help="one table across the runs"),
    local: bool = typer.Option(False, "--local", help="sample and extract in this process instead of Ray tasks"),
    features: Optional[str] = typer.Option(None, "--features", help="module:function, (B, *shape) -> (B, d) features"),
    address: Optional[str] = typer.Option(None, "--address", help="Ray address (default: RAY_ADDRESS, else local)"),
    gpu: bool = typer.Option(False, "--gpu", help="sample on a GPU (one per Ray task)"),
    no_log: bool = typer.Option(False, "--no-log", help="print only; log nothing to MLflow"),
    fresh: bool = typer.Option(False, "--fresh", help="recompute even if the run was scored with these settings"),
):
    """Score trained models offline with the metrics their family deserves (FD, KID, precision/recall, ...)."""
    flags = {"local": local, "features": features, "address": address, "gpu": gpu, "log": not no_log, "fresh": fresh}
    typer.echo(run_eval(args, compare, **flags))


def run_eval(args: list[str], compare: bool = False, **flags) -> str:
    """Evaluate the runs in ``args`` (options are the ``key=value`` items); return the text."""
    import logging
    import os

    from gp.errors import GpError
    from gp.eval.runner import evaluate, parse_options

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    runs, opts = [a for a in args if "=" not in a], parse_options([a for a in args if "=" in a], **flags)
    if not runs:
        raise GpError("name at least one run id ('gp runs' lists them)")
    if len(runs) > 1 and not compare:
        raise GpError("several runs need --compare (one table across runs)")
    results = [evaluate(r, opts) for r in runs]
    return compare_table(results) if compare else run_table(results[0])
