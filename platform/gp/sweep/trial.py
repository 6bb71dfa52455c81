"""One trial: a Ray Tune function that trains one configuration through Ray Train.

The trial merges Tune's sampled values into the sweep's fixed config, opens its MLflow
child run (``mlflow.parentRunId`` = the sweep's run; the same params and tags as ``gp
submit``), and fits a ``TorchTrainer`` running gp's own worker loop; the Train workers'
epoch reports reach Tune through Ray's ``TuneReportCallback``. A trial restarted by ``gp
sweep resume=ID`` finds its run by tag (``gp.trial``) and continues from the run's last
checkpoint, as ``gp submit resume=`` does.
"""
from __future__ import annotations

import copy
import os
import time

from gp import tracking

TRIAL_TAG, SWEEP_TAG, PARENT_TAG = "gp.trial", "gp.sweep", "mlflow.parentRunId"


def run_trial(config: dict, setup: dict) -> None:
    """Tune's trainable: ``config["params"]`` are this trial's sampled values (dotted keys);
    ``setup`` is the sweep's fixed part (see :func:`gp.sweep.run.trial_setup`)."""
    import ray.tune

    from gp.config import validate
    from gp.plugins import load_registry

    registry = load_registry()
    job, model_cfg = validate(with_params(setup["raw"], config["params"]), registry)
    job.model = model_cfg.model_dump()
    trial_id = ray.tune.get_context().get_trial_id()
    run_id = open_run(setup, job, registry.origin(job.plugin), trial_id)
    try:
        _trainer(job, run_id, trial_id, setup).fit()
    except Exception as exc:  # unless the scheduler stopped it (the driver ends that run KILLED)
        from gp.errors import first_line

        _finish(setup["uri"], run_id, "FAILED", first_line(exc), only_running=True)
        raise
    _finish(setup["uri"], run_id, "FINISHED")


def with_params(raw: dict, params: dict) -> dict:
    """A copy of the nested config ``raw`` with each dotted ``key: value`` of ``params`` set."""
    out = copy.deepcopy(raw)
    for key, value in params.items():
        *parents, leaf = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def open_run(setup: dict, job, origin, trial_id: str) -> str:
    """This trial's child run: the one a resumed sweep made before, else a new one."""
    from mlflow.tracking import MlflowClient

    c = MlflowClient(setup["uri"])
    found = find_run(c, setup["parent"], trial_id)
    if found:
        c.update_run(found, status="RUNNING")
        return found
    spec = tracking.run_spec(job, origin)
    spec["tags"] |= {PARENT_TAG: setup["parent"], SWEEP_TAG: setup["parent"], TRIAL_TAG: trial_id,
                     "mlflow.runName": f"{trial_id}"}
    return tracking.create_run(c, spec)


def find_run(c, parent: str, trial_id: str) -> str | None:
    """The run id of trial ``trial_id`` of sweep ``parent``, if it has one."""
    exp = c.get_run(parent).info.experiment_id
    runs = c.search_runs([exp], filter_string=f"tags.`{SWEEP_TAG}` = '{parent}' and tags.`{TRIAL_TAG}` = '{trial_id}'",
                         max_results=1)
    return runs[0].info.run_id if runs else None


def _finish(uri: str, run_id: str, status: str, reason: str | None = None, only_running: bool = False) -> None:
    from mlflow.tracking import MlflowClient

    c = MlflowClient(uri)
    if only_running and c.get_run(run_id).info.status != "RUNNING":
        return
    if reason:
        c.set_tag(run_id, "gp.failure", reason)
    c.set_terminated(run_id, status)


def _trainer(job, run_id: str, trial_id: str, setup: dict):
    """gp's worker loop under Ray Train, reporting each epoch to this Tune trial."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    from ray.tune.integration.ray_train import TuneReportCallback

    from gp.train.loop import train_worker

    t = job.trainer
    loop_config = {"job": job.model_dump(), "run_id": run_id, "tracking_uri": setup["uri"], "sink": None,
                   "epoch_metrics": setup.get("epoch_eval")}
    return TorchTrainer(
        train_worker,
        train_loop_config=loop_config,
        scaling_config=ScalingConfig(num_workers=t.num_workers, use_gpu=t.use_gpu, resources_per_worker={"CPU": 1}),
        run_config=RunConfig(
            name=f"{trial_id}-{int(time.time())}",
            storage_path=os.path.join(setup["storage"], "trials"),
            checkpoint_config=CheckpointConfig(num_to_keep=1),
            failure_config=FailureConfig(max_failures=t.max_failures),
            callbacks=[TuneReportCallback()],
        ),
    )
