"""Which metrics a run gets: chosen by the model's capabilities and the data kind.

Every image model gets the sample metrics in the reference classifier's features; a model
with ``log_prob`` adds test likelihood, one with ``encode`` and ``decode`` reconstruction
error, a conditional one GAN-test and GAN-train, one that classifies (``classify``: a
semi-supervised model, a fine-tuned stack) its test accuracy. 2-D points get mode coverage (ring and
grid mixtures) and the sample metrics on raw coordinates. ``parzen`` is opt-in: it is
slow and rewards the wrong things (Theis et al. 2016), so it is asked for by name.
"""
from __future__ import annotations

from gp.errors import GpError, unknown

#: metric name -> what it needs (data kind, or a model capability).
METRICS = {
    "fid": ("any",), "kid": ("any",), "pr": ("any",), "1nn": ("any",),
    "cs": ("image",), "parzen": ("any",), "nll": ("log_prob",), "recon": ("encode", "decode"),
    "gan-test": ("image", "conditional"), "gan-train": ("image", "conditional"), "modes": ("mixture",),
    "accuracy": ("classify",),
}
ALIASES = {"is": "cs", "fd": "fid", "precision": "pr", "recall": "pr", "likelihood": "nll", "nn": "1nn",
           "acc": "accuracy"}
OPT_IN = {"parzen"}
FEATURES = {"fid", "kid", "pr", "1nn"}  # need the feature map
PROBABILITIES = {"cs", "gan-test"}  # need the reference classifier's class probabilities
SAMPLES = FEATURES | PROBABILITIES | {"parzen", "gan-train", "modes"}  # need model samples


def traits(caps: list[str], kind: str, mixture: bool) -> set[str]:
    """What a run offers: its capabilities, data kind, ``mixture`` for toy ring/grid."""
    return {"any", kind, *caps} | ({"mixture"} if mixture else set())


def default_metrics(caps: list[str], kind: str, mixture: bool) -> list[str]:
    """Every applicable metric except the opt-in ones, in catalogue order."""
    have = traits(caps, kind, mixture)
    return [m for m, need in METRICS.items() if m not in OPT_IN and set(need) <= have]


def resolve(requested: str | None, caps: list[str], kind: str, mixture: bool) -> list[str]:
    """``metrics=a,b`` (or ``all``, or None for the defaults) -> checked metric names."""
    if not requested:
        return default_metrics(caps, kind, mixture)
    names = [ALIASES.get(m.strip(), m.strip()) for m in requested.split(",") if m.strip()]
    if names == ["all"]:
        return default_metrics(caps, kind, mixture) + sorted(OPT_IN)
    have = traits(caps, kind, mixture)
    out = []
    for m in names:
        if m not in METRICS:
            raise unknown("metric", m, METRICS)
        missing = set(METRICS[m]) - have
        if missing:
            raise GpError(f"metric {m} needs {', '.join(sorted(missing))}, which this run's model or data lacks")
        if m not in out:
            out.append(m)
    return out


def unlabelled(dataset: str, names: list[str], features) -> GpError:
    """The one-line error for metrics that need the reference classifier on images without
    class labels: which to leave out, and ``--features`` for the feature metrics."""
    keep = [m for m in names if m not in PROBABILITIES]
    dropped = [m for m in names if m in PROBABILITIES]
    flag = " --features module:function" if features is None and set(keep) & FEATURES else ""
    if not dropped:
        return GpError(f"dataset {dataset} has no class labels for a reference classifier; pass{flag} "
                       f"(your own (B, C, H, W) -> (B, d) feature map) for metrics {', '.join(keep)}")
    what = f"metric {dropped[0]} needs" if len(dropped) == 1 else f"metrics {', '.join(dropped)} need"
    fix = f"leave {'it' if len(dropped) == 1 else 'them'} out: metrics={','.join(keep)}{flag}" if keep else "ask for other metrics (metrics=...)"
    return GpError(f"dataset {dataset} has no class labels for the reference classifier that {what}; {fix}")
