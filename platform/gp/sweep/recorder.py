"""The sweep driver's Ray Tune callback: prints each trial's epochs, logs the objective into
the trial's MLflow run (``sweep/objective``, step = epoch) and ends the run as the scheduler
ended the trial: KILLED with ``gp.stopped=scheduler`` when stopped early, never FAILED."""
from __future__ import annotations

from ray.tune import Callback

from gp.sweep.report import OBJECTIVE


class Recorder(Callback):
    """Ray Tune callback in the driver: prints each trial's epochs, logs the objective into
    the trial's run, and ends the run as the scheduler ended the trial."""

    def __init__(self, parent: str, uri: str, objective: str, epochs: int):
        self.parent, self.uri, self.objective, self.epochs = parent, uri, objective, epochs
        self.runs: dict[str, str] = {}

    def _client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(self.uri)

    def _run(self, trial_id: str) -> str | None:
        from gp.sweep.trial import find_run

        if trial_id not in self.runs:
            found = find_run(self._client(), self.parent, trial_id)
            if found is None:
                return None
            self.runs[trial_id] = found
        return self.runs[trial_id]

    def on_trial_result(self, iteration, trials, trial, result, **info):
        value, epoch = result.get(self.objective), result.get("epoch")
        print(f"gp: trial {trial.trial_id} epoch {epoch}/{self.epochs} {self.objective}={value:.4g}", flush=True)
        run_id = self._run(trial.trial_id)
        if run_id and value is not None:
            self._client().log_metric(run_id, OBJECTIVE, float(value), step=int(epoch))

    def on_trial_complete(self, iteration, trials, trial, **info):
        epoch = int((trial.last_result or {}).get("epoch") or 0)
        run_id = self._run(trial.trial_id)
        if run_id is None:
            return
        c = self._client()
        if epoch < self.epochs:
            if "gp.failure" in c.get_run(run_id).data.tags:  # the trial saw its stop as an error first
                c.delete_tag(run_id, "gp.failure")
            c.set_tag(run_id, "gp.stopped", "scheduler")
            c.set_tag(run_id, "gp.stopped_at_epoch", str(epoch))
            c.set_terminated(run_id, "KILLED")
            print(f"gp: trial {trial.trial_id} stopped by the scheduler after epoch {epoch}", flush=True)
        elif c.get_run(run_id).info.status == "RUNNING":
            c.set_terminated(run_id, "FINISHED")

    def on_trial_error(self, iteration, trials, trial, **info):
        run_id = self._run(trial.trial_id)
        print(f"gp: trial {trial.trial_id} failed", flush=True)
        if run_id and self._client().get_run(run_id).info.status == "RUNNING":
            self._client().set_terminated(run_id, "FAILED")
