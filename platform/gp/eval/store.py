"""The MLflow side of ``gp eval``: loading a run's model and data, logging the results,
and a cache under ``$GP_HOME/eval`` of what depends only on the data and the features:
train-vs-test floors, Parzen baselines, test-set features and their neighbourhoods.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
import time

from gp import tracking
from gp.errors import GpError

PREFIX = "eval/"


@dataclasses.dataclass
class Loaded:
    """A run's checkpoint, rebuilt model, data config and MLflow run."""

    run_id: str
    payload: dict
    model: object
    data_cfg: object
    run: object


def load_run(run_id: str, registry) -> Loaded:
    """Download ``checkpoint/model.pt`` of a run and rebuild its model (one-line errors)."""
    from gp.train import checkpoint

    c = tracking.command_client()  # a server that is down: said within seconds, one line after a bounded wait
    with tracking.errors(otherwise=f"run {run_id} not found in {tracking.tracking_uri()}; 'gp runs' lists runs"):
        run = c.get_run(run_id)
    with tempfile.TemporaryDirectory(prefix="gp-eval-") as tmp:
        with tracking.errors(otherwise=f"run {run_id} has no checkpoint to evaluate (did it finish an epoch?)"):
            path = c.download_artifacts(run_id, "checkpoint/model.pt", tmp)
        payload = checkpoint.load(path)
    model = checkpoint.build_model(payload, registry)
    return Loaded(run_id, payload, model, data_config(run, registry), run)


def data_config(run, registry):
    """The run's DataConfig (the name and the dataset's own keys), from its ``gp.config`` tag
    (JSON) or its ``data.*`` params; keys its dataset does not take (older runs logged
    ``data.kind`` for every dataset) are dropped."""
    from gp.config import DataConfig, check_data_options

    raw = json.loads(run.data.tags.get("gp.config", "{}")).get("data")
    if raw is None:
        params = run.data.params
        raw = {k[5:]: (None if v == "None" else v) for k, v in params.items() if k.startswith("data.")}
    if not raw.get("name"):
        raise GpError(f"run {run.info.run_id} records no dataset (no gp.config tag or data.name param)")
    takes = registry.dataset_options(raw["name"]).model_fields
    cfg = DataConfig(name=raw["name"], **{k: raw[k] for k in takes if raw.get(k) is not None})
    return check_data_options(cfg, registry)


def labelled(run) -> tuple[int, int] | None:
    """The run's ``data.labelled`` (training labels it kept) and ``data.label_seed`` (their
    draw), or None."""
    raw = json.loads(run.data.tags.get("gp.config", "{}")).get("data") or {}
    value = raw.get("labelled", run.data.params.get("data.labelled"))
    seed = raw.get("label_seed", run.data.params.get("data.label_seed", 0))
    return None if value in (None, "None") else (int(value), int(seed))


def log_results(run_id: str, metrics: dict, figures: dict, tags: dict, step: int = 0) -> None:
    """Metrics as ``eval/<name>`` and figures as images under ``eval/<name>``, both at the
    checkpoint's training ``step`` (evaluations of a resumed run make a curve), and tags."""
    from mlflow.entities import Metric, RunTag

    c, now = tracking.client(), int(time.time() * 1000)
    rows = [Metric(PREFIX + k, float(v), now, int(step)) for k, v in metrics.items()]
    c.log_batch(run_id, metrics=rows, tags=[RunTag(k, str(v)) for k, v in tags.items()])
    for key, image in figures.items():
        c.log_image(run_id, image, key=PREFIX + key, step=int(step))


def logged(run, signature: str) -> dict | None:
    """The run's earlier ``eval/`` metrics if they were made with this signature."""
    if run.data.tags.get("gp.eval.signature") != signature:
        return None
    return {k[len(PREFIX):]: v for k, v in run.data.metrics.items() if k.startswith(PREFIX)} or None


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cached(key: dict, compute) -> dict:
    """``compute()`` (a dict of floats), stored under ``$GP_HOME/eval/cache`` by ``key``."""
    path = tracking.home() / "eval" / "cache" / f"{digest(key)}.json"
    if path.exists():
        return json.loads(path.read_text())["values"]
    values = {k: float(v) for k, v in compute().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"key": key, "values": values}, default=str))
    return values


def cached_tensors(key: dict, compute):
    """``compute()`` (a tensor, or a tuple of tensors and None), stored under
    ``$GP_HOME/eval/cache`` by ``key``; written to a temporary file, then renamed."""
    import torch

    path = tracking.home() / "eval" / "cache" / f"{digest(key)}.pt"
    if path.exists():
        return torch.load(path, map_location="cpu", weights_only=True)
    values = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".pt.tmp")
    torch.save(values, tmp)
    tmp.replace(path)
    return values
