"""What the read-only CLI commands print: plugin tables, run tables, samples."""
from __future__ import annotations

import sys

from gp import tracking
from gp.errors import first_line
from gp.plugins import load_registry


def table(headers: list[str], rows: list[list]) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(*headers, box=None, pad_edge=False)
    for row in rows:
        table.add_row(*(Text(str(v)) for v in row))  # plain text: "[x]" in a description is not markup
    console = Console(width=160, record=True, file=open("/dev/null", "w"))
    console.print(table)
    return console.export_text().rstrip()


def plugins_table() -> str:
    from gp.listing import cached_rows

    rows, datasets = cached_rows(_plugin_rows)
    listing = table(["plugin", "distribution", "version", "family", "capabilities", "status"], rows)
    return listing + f"\n\ndatasets: {', '.join(datasets)}"


def _plugin_rows() -> tuple[list[list], list[str]]:
    from gp.model import capabilities

    reg = load_registry()
    rows = [[name, o.dist, o.version, cls.family, ",".join(capabilities(cls)) or "-", "ok"]
            for name, (cls, o) in sorted(reg.models.items())]
    rows += [[name, o.dist, o.version, "-", "-", f"FAILED: {err}"] for name, (o, err) in sorted(reg.failures.items())]
    return rows, sorted(reg.datasets)


def plugin_config(name: str, everything: bool = False) -> str:
    """A plugin's ``model.*`` keys (with ``everything``: the ``trainer.*`` and ``data.*`` keys too)."""
    from gp import fields

    registry = load_registry()
    cls = registry.model(name)
    rows = fields.rows(cls.Config, "model.")
    if everything:
        from gp.config import DataConfig, TrainerConfig

        rows += fields.rows(TrainerConfig, "trainer.") + fields.rows(DataConfig, "data.") + fields.dataset_rows(registry)
    doc = first_line(sys.modules[cls.__module__].__doc__ or "(no module docstring)")
    hint = "" if everything else f"\n\n'gp plugins show {name} --all' also lists the trainer.* and data.* keys"
    return f"{name}: {doc}\n\n" + table(["key", "type", "default", "description"], rows) + hint + _recipes(cls)


def _recipes(cls) -> str:
    """The plugin's recipes (``recipe=NAME``): each value with where it comes from."""
    from gp.recipes import recipes_of

    found = recipes_of(cls)
    if not found:
        return f"\n\nrecipes: none (recipe=NAME picks one where a plugin declares them)"
    parts = []
    for name, recipe in found.items():
        rows = [[key, value, source] for key, (value, source) in recipe.values.items()]
        parts.append(f"recipe={name}: {recipe.description}\n" + table(["key", "value", "source"], rows))
    return "\n\n" + "\n\n".join(parts)


RUN_TAGS, RUN_PARAMS, RUN_METRICS = ("gp.plugin", "gp.recipe"), ("data.name", "trainer.epochs"), "/loss"


def runs_table(experiment: str, limit: int) -> str:
    runs = _recent_runs(experiment, limit)
    if runs is None:
        return f"no runs yet in experiment '{experiment}' ({tracking.tracking_uri()})"
    rows = [_run_row(r) for r in runs]
    return table(["run", "plugin", "data", "status", "epochs", "key metrics"], rows)


def _recent_runs(experiment: str, limit: int) -> list[dict] | None:
    """Run records (:mod:`gp.localruns`): read directly from a local SQLite store, else through MLflow."""
    from gp import localruns

    try:
        return localruns.recent(tracking.tracking_uri(), experiment, limit, RUN_TAGS, RUN_PARAMS, RUN_METRICS)
    except localruns.Unreadable:
        return _client_runs(experiment, limit)


def _client_runs(experiment: str, limit: int) -> list[dict] | None:
    """The same records as :func:`gp.localruns.recent`, from any MLflow tracking store."""
    with tracking.errors():
        c = tracking.command_client()
        exp = c.get_experiment_by_name(experiment)
        if exp is None:
            return None
        runs = c.search_runs([exp.experiment_id], max_results=limit, order_by=["attributes.start_time DESC"])
    return [{"id": r.info.run_id, "status": r.info.status,
             "tags": {k: v for k, v in r.data.tags.items() if k in RUN_TAGS},
             "params": {k: v for k, v in r.data.params.items() if k in RUN_PARAMS},
             "metrics": {k: v for k, v in r.data.metrics.items() if k.endswith(RUN_METRICS)}} for r in runs]


def _run_row(r: dict) -> list:
    m = r["metrics"]
    keys = sorted(m)[:3]
    metrics = " ".join(f"{k}={m[k]:.4g}" for k in keys)
    recipe = r["tags"].get("gp.recipe")
    plugin = r["tags"].get("gp.plugin", "?") + (f" recipe={recipe}" if recipe else "")
    return [r["id"], plugin, r["params"].get("data.name", "?"), r["status"], r["params"].get("trainer.epochs", "?"), metrics]


def sample_run(run_id: str, options: list[str], out: str, scale: int | None = None) -> str:
    """Draw samples from a run's checkpoint into ``out`` (.png, .npy or .pt; see :mod:`gp.samples`)."""
    from gp import samples

    opts = samples.parse_options(options)
    ext = samples.output_format(out, scale)
    model = _checkpoint_model(run_id)
    x, y = samples.draw(model, opts)
    what = samples.write(x, y, model.data.kind, out, ext, scale)
    return f"wrote {opts['n']} samples of run {run_id} to {out} ({what})"


def _checkpoint_model(run_id: str):
    """The model of a run's last checkpoint, rebuilt through the plugin registry."""
    from gp.train import checkpoint

    with tracking.errors(otherwise=f"run {run_id} has no checkpoint in {tracking.tracking_uri()}; 'gp runs' lists runs"):
        path = tracking.command_client().download_artifacts(run_id, "checkpoint/model.pt")
    return checkpoint.build_model(checkpoint.load(path), load_registry())

