"""The sweep in MLflow: the parent run, each trial's status as the scheduler ends it, the
summary (best trial, its config, a plot of the objective per trial over time) and
``gp runs --sweep ID``.

A trial the scheduler stops early ends KILLED with the tag ``gp.stopped=scheduler`` (and
``gp.stopped_at_epoch``), never FAILED; each epoch's objective is logged into the trial's
run as ``sweep/objective`` (step = epoch), which the plot and the ranking read.
"""
from __future__ import annotations

import dataclasses
import json
import tempfile
import time

from gp import tracking

OBJECTIVE = "sweep/objective"


def create_parent(plan, registry, storage: str, plan_tag: str, path_tag: str) -> str:
    """The parent run: fixed params, ``space.KEY`` params, the plan and the Tune path as tags."""
    import os

    from mlflow.entities import Param, RunTag

    from gp.config import flatten

    c, plugin = tracking.client(), plan.raw["plugin"]
    experiment = tracking.experiment_id(c, plan.raw.get("experiment", "gp"))
    data = plan.raw.get("data", {}).get("name", "fashion-mnist")
    tags = {"mlflow.runName": f"sweep-{plugin}-{data}", "gp.plugin": plugin, "gp.sweep.role": "parent",
            "gp.sweep.metric": plan.objective, "gp.sweep.mode": plan.mode, "gp.sweep.scheduler": plan.scheduler}
    run_id = c.create_run(experiment, tags=tags).info.run_id
    params = tracking.public_params(flatten(plan.raw)) | {f"space.{k}": v for k, v in plan.space.items()}
    params |= {"sweep.trials": str(plan.trials), "sweep.metric": plan.objective, "sweep.mode": plan.mode}
    c.log_batch(run_id, params=[Param(k, v[:6000]) for k, v in params.items()],
                tags=[RunTag(plan_tag, json.dumps(dataclasses.asdict(plan))), RunTag(path_tag, os.path.join(storage, run_id))])
    c.log_dict(run_id, plan.space, "sweep/space.json")
    return run_id


def interrupted(parent: str, grid, trials: int) -> bool:
    """End an interrupted sweep KILLED (its unfinished trials too); False if every trial ended.

    ``grid`` is Tune's ResultGrid (None when the driver itself was stopped): a trial counts
    as ended when it is TERMINATED (finished or stopped by the scheduler) or in ERROR."""
    if grid is not None and grid.num_terminated + grid.num_errors >= trials:
        return False
    c, hint = tracking.client(), f"interrupted; resume with 'gp sweep resume={parent}'"
    for run in children(c, parent):
        if run.info.status == "RUNNING":
            c.set_tag(run.info.run_id, "gp.stopped", "interrupted")
            c.set_terminated(run.info.run_id, "KILLED")
    c.set_tag(parent, "gp.failure", hint)
    c.set_terminated(parent, "KILLED")
    print(f"gp: sweep {parent} {hint}", flush=True)
    return True


def children(c, parent: str) -> list:
    exp = c.get_run(parent).info.experiment_id
    return c.search_runs([exp], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'", max_results=1000)


def ranked(c, parent: str, mode: str) -> list[tuple]:
    """(run, last objective or None) of every trial, best first; trials without a value last."""
    rows = [(r, r.data.metrics.get(OBJECTIVE)) for r in children(c, parent)]
    sign = 1 if mode == "min" else -1
    return sorted(rows, key=lambda rv: (rv[1] is None, sign * (rv[1] or 0.0)))


def conclude(parent: str, plan, grid) -> str:
    """The parent's summary: best trial (id, run, config, value), the plot; FINISHED."""
    c = tracking.client()
    order = ranked(c, parent, plan.mode)
    best, value = order[0] if order else (None, None)
    if best is not None and value is not None:
        config = {k: best.data.params.get(k) for k in plan.space}
        c.set_tag(parent, "gp.sweep.best_trial", best.data.tags.get("gp.trial", ""))
        c.set_tag(parent, "gp.sweep.best_run", best.info.run_id)
        c.set_tag(parent, "gp.sweep.best_config", json.dumps(config))
        c.log_dict(parent, config, "sweep/best_config.json")
        c.log_metric(parent, f"best/{plan.objective}", value)
        print(f"gp: best trial {best.data.tags.get('gp.trial')} (run {best.info.run_id}): "
              f"{plan.objective}={value:.4g} with {', '.join(f'{k}={v}' for k, v in config.items())}", flush=True)
    _log_plot(c, parent, order, plan.objective)
    c.set_terminated(parent, "FINISHED")
    return parent


def _log_plot(c, parent: str, order: list, objective: str) -> None:
    """sweep/objective.png: each trial's objective against minutes since the sweep began."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = c.get_run(parent).info.start_time
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for run, _ in order:
        history = sorted(c.get_metric_history(run.info.run_id, OBJECTIVE), key=lambda m: m.step)
        if history:
            ax.plot([(m.timestamp - start) / 60000 for m in history], [m.value for m in history], marker="o",
                    label=f"{run.data.tags.get('gp.trial', '?')} ({run.info.status.lower()})")
    ax.set_xlabel("minutes since the sweep began")
    ax.set_ylabel(objective)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with tempfile.TemporaryDirectory(prefix="gp-sweep-") as tmp:
        fig.savefig(f"{tmp}/objective.png")
        c.log_artifact(parent, f"{tmp}/objective.png", "sweep")
    plt.close(fig)


def sweep_table(parent: str) -> str:
    """``gp runs --sweep ID``: the trials ranked by their last objective value."""
    from gp.commands import table
    from gp.errors import GpError

    c = tracking.client()
    try:
        tags = c.get_run(parent).data.tags
    except Exception:
        raise GpError(f"sweep {parent} not found in {tracking.tracking_uri()}; 'gp runs' lists runs") from None
    if tags.get("gp.sweep.role") != "parent":
        raise GpError(f"run {parent} is not a sweep ('gp sweep' starts one)")
    space = json.loads(tags.get("gp.sweep.plan", "{}")).get("space", {})
    objective, rows = tags.get("gp.sweep.metric", "?"), []
    for rank, (run, value) in enumerate(ranked(c, parent, tags.get("gp.sweep.mode", "min")), 1):
        status = run.info.status + (" (stopped by scheduler)" if run.data.tags.get("gp.stopped") == "scheduler" else "")
        epochs = int(max((m.step for m in c.get_metric_history(run.info.run_id, OBJECTIVE)), default=0))
        rows.append([rank, run.data.tags.get("gp.trial", "?"), run.info.run_id, status, epochs,
                     "-" if value is None else f"{value:.4g}", *(run.data.params.get(k, "?") for k in space)])
    best = tags.get("gp.sweep.best_trial")
    head = f"sweep {parent}: {objective} ({tags.get('gp.sweep.mode')})" + (f", best trial {best}" if best else "")
    return head + "\n" + table(["#", "trial", "run", "status", "epochs", objective, *space], rows)
