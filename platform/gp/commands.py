"""What the read-only CLI commands print: plugin tables, run tables, samples, the UI."""
from __future__ import annotations

import subprocess
import sys

from gp import tracking
from gp.errors import GpError
from gp.plugins import load_registry


def _table(headers: list[str], rows: list[list]) -> str:
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
    table = _table(["plugin", "distribution", "version", "family", "capabilities", "status"], rows)
    return table + f"\n\ndatasets: {', '.join(datasets)}"


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
    doc = (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
    hint = "" if everything else f"\n\n'gp plugins show {name} --all' also lists the trainer.* and data.* keys"
    return f"{name}: {doc}\n\n" + _table(["key", "type", "default", "description"], rows) + hint


def runs_table(experiment: str, limit: int) -> str:
    c = tracking.client()
    exp = c.get_experiment_by_name(experiment)
    if exp is None:
        return f"no runs yet in experiment '{experiment}' ({tracking.tracking_uri()})"
    runs = c.search_runs([exp.experiment_id], max_results=limit, order_by=["attributes.start_time DESC"])
    rows = [_run_row(r) for r in runs]
    return _table(["run", "plugin", "data", "status", "epochs", "key metrics"], rows)


def _run_row(r) -> list:
    m = r.data.metrics
    keys = sorted(k for k in m if k.endswith("/loss"))[:3]
    metrics = " ".join(f"{k}={m[k]:.4g}" for k in keys)
    return [r.info.run_id, r.data.tags.get("gp.plugin", "?"), r.data.params.get("data.name", "?"),
            r.info.status, r.data.params.get("trainer.epochs", "?"), metrics]


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

    try:
        path = tracking.client().download_artifacts(run_id, "checkpoint/model.pt")
    except Exception:
        raise GpError(f"run {run_id} has no checkpoint in {tracking.tracking_uri()}; 'gp runs' lists runs") from None
    return checkpoint.build_model(checkpoint.load(path), load_registry())


def serve_ui(port: int) -> None:
    uri = tracking.tracking_uri()
    print(f"MLflow UI for {uri} on http://127.0.0.1:{port}")
    subprocess.run([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
                    "--host", "127.0.0.1", "--port", str(port), "--workers", "1"], check=False)
