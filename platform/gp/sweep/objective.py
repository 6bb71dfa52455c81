"""What a sweep can optimise: any metric a trial logs, known before the sweep starts.

A trial reports at each epoch end ``epoch``, ``step``, each loss ``UPDATE/NAME`` (the
mean over the epoch of what ``gp submit`` logs per step) and, when the objective is one,
``eval/NAME``: a ``gp eval`` sample metric on a small sample (:mod:`gp.sweep.epoch_eval`).
The loss names come from one forward pass of the base config on 4 examples.
"""
from __future__ import annotations

from gp.errors import GpError

#: gp eval metric -> the value it reports (``gp eval``'s own keys, logged as ``eval/KEY``).
EPOCH_METRICS = {"fid": "fid", "kid": "kid", "cs": "classifier_score", "pr": "precision",
                 "1nn": "1nn_accuracy", "modes": "modes_captured"}
#: value keys that name their metric directly (eval/recall is the pr metric's recall).
VALUE_KEYS = {"fid": "fid", "kid": "kid", "classifier_score": "cs", "class_coverage": "cs", "precision": "pr",
              "recall": "pr", "1nn_accuracy": "1nn", "modes_captured": "modes", "hq_fraction": "modes",
              "reverse_kl": "modes", "modes_hit": "modes"}


def loss_names(cls, config, data, epochs: int) -> list[str]:
    """``UPDATE/NAME`` of every loss the model returns in any phase (no training step)."""
    import torch

    from gp.data.spec import as_float

    names = []
    with torch.random.fork_rng(), torch.no_grad():
        model = cls(config, data.spec)
        for phase in dict.fromkeys(model.phases(epochs)):
            model.begin_phase(phase)
            sources = dict(zip(model.updates, model.batch_sources))
            for update in dict.fromkeys(model.updates):
                index = (data.y >= 0).nonzero()[:4, 0] if sources[update] == "labelled" else slice(0, 4)
                names += [f"{update}/{k}" for k in model({"x": as_float(data.x[index]), "y": data.y[index]}, update)]
    return list(dict.fromkeys(names))


def eval_metric(name: str, caps: list[str], kind: str, mixture: bool) -> tuple[str, str] | None:
    """``eval/fd`` -> (gp eval metric, value key), e.g. ("fid", "fid"); None if not an eval metric."""
    from gp.eval.plan import ALIASES, resolve

    if not name.startswith("eval/"):
        return None
    short = name.removeprefix("eval/")
    metric = VALUE_KEYS.get(short) or ALIASES.get(short, short)
    if metric not in EPOCH_METRICS:
        raise GpError(f"{name} cannot be scored at each epoch end; a sweep can use eval/"
                      + ", eval/".join(sorted(EPOCH_METRICS)) + " (or their value names, e.g. eval/recall)")
    resolve(metric, caps, kind, mixture)  # one line if this model or data cannot have it
    return metric, short if short in VALUE_KEYS else EPOCH_METRICS[metric]


def check_metric(metric: str, losses: list[str], plugin: str, eval_ok: tuple | None) -> str:
    """The canonical name of the objective (``eval/fd`` -> ``eval/fid``), or one line."""
    if eval_ok is not None:
        return f"eval/{eval_ok[1]}"
    if metric in losses or metric in ("epoch", "step"):
        return metric
    raise GpError(f"--metric {metric}: plugin {plugin} never logs it; it logs {', '.join(losses)} "
                  f"(each the epoch's mean), or use a gp eval metric such as eval/fid")
