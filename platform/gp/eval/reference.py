"""Finding the reference classifier of a dataset: local cache, then MLflow, then training.

The cache file ``$GP_HOME/classifiers/<dataset>-<key>.pt`` is keyed by the dataset's
identity and the training config; the payload inside carries the version hash of the
weights. A classifier trained elsewhere is downloaded from the MLflow experiment
``gp-classifiers`` (tag ``gp.classifier.key``), so a cluster scores every run with one net.
"""
from __future__ import annotations

import pathlib
import shutil
import tempfile

import torch

from gp import tracking
from gp.eval.classifier import EXPERIMENT, ClassifierConfig, config_key, train_reference
from gp.errors import GpError


def data_identity(data_cfg) -> dict:
    """What defines the data a classifier is trained on (not limit or labelled)."""
    from gp.config import data_options

    return {"name": data_cfg.name, **data_options(data_cfg)}


def splits(registry, data_cfg):
    """Full training split (every label) and test split of the run's dataset, as floats
    (uint8 images in [0, 1])."""
    from gp.config import DataConfig

    clean = DataConfig(**data_identity(data_cfg))
    loader = registry.dataset(clean.name)
    return loader(clean, "train").as_float(), loader(clean, "test").as_float()


def reference(registry, data_cfg, cfg: ClassifierConfig = ClassifierConfig(), log: bool = True) -> dict:
    """The classifier payload for ``data_cfg``'s dataset (cached, shared via MLflow, or trained).

    ``log=False`` trains without registering the new classifier in MLflow."""
    key = config_key(data_identity(data_cfg), cfg)
    path = tracking.home() / "classifiers" / f"{data_cfg.name}-{key}.pt"
    if path.exists():
        return torch.load(path, map_location="cpu", weights_only=True)
    if _download(key, path):
        return torch.load(path, map_location="cpu", weights_only=True)
    train, test = splits(registry, data_cfg)
    if train.spec.kind != "image" or train.spec.num_classes < 2:
        raise GpError(f"dataset {data_cfg.name} has no labelled images for a reference classifier; "
                      "pass --features module:function")
    payload = train_reference(train, test, cfg, say=_say)
    payload["dataset"], payload["key"] = data_cfg.name, key
    _save(payload, path)
    if log:
        _register(payload, path)
    return payload


def _save(payload: dict, path: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, str(path) + ".tmp")
    path.with_suffix(".pt.tmp").replace(path)


def _register(payload: dict, path: pathlib.Path) -> str:
    """Log the classifier (weights, config, accuracy, training time) to ``gp-classifiers``."""
    from mlflow.entities import Metric, Param, RunTag

    c = tracking.client()
    tags = {"mlflow.runName": f"classifier-{payload['dataset']}", "gp.classifier.hash": payload["hash"],
            "gp.classifier.key": payload["key"], "gp.classifier.dataset": payload["dataset"]}
    run_id = c.create_run(tracking.experiment_id(c, EXPERIMENT), tags=tags).info.run_id
    params = [Param(k, str(v)) for k, v in payload["config"].items()]
    metrics = [Metric("test_accuracy", payload["accuracy"], 0, 0), Metric("train_seconds", payload["seconds"], 0, 0)]
    c.log_batch(run_id, metrics=metrics, params=params, tags=[RunTag("gp.classifier.shape", str(payload["shape"]))])
    c.log_artifact(run_id, str(path), artifact_path="classifier")
    c.set_terminated(run_id)
    return run_id


def _download(key: str, path: pathlib.Path) -> bool:
    """Fetch a classifier with this key from MLflow into the cache; False if none is logged."""
    c = tracking.client()
    exp = c.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        return False
    runs = c.search_runs([exp.experiment_id], filter_string=f"tags.`gp.classifier.key` = '{key}'",
                         order_by=["attributes.start_time ASC"], max_results=1)
    if not runs:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gp-clf-") as tmp:
        shutil.copyfile(c.download_artifacts(runs[0].info.run_id, f"classifier/{path.name}", tmp), path)
    return True


def _say(line: str) -> None:
    import sys

    print(line, file=sys.stderr, flush=True)
