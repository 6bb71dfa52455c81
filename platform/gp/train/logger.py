"""Rank 0's logging into the job's one MLflow run (asynchronous; flushed every epoch)."""
from __future__ import annotations

import os
import time


class NullLogger:
    """What every rank but 0 gets: logs nothing."""

    def log_steps(self, rows):
        pass

    def log_epoch(self, epoch, images, ckpt_path):
        pass

    def tag(self, key, value):
        pass

    def close(self):
        pass


class RunLogger(NullLogger):
    """Logs into an existing run by id, so a restarted worker group continues it."""

    def __init__(self, run_id: str, tracking_uri: str):
        import mlflow

        self.mlflow, self.run_id = mlflow, run_id
        self._previous_uri = os.environ.get("MLFLOW_TRACKING_URI")  # set_tracking_uri exports it: undone at close
        mlflow.set_tracking_uri(tracking_uri)
        self.client = mlflow.tracking.MlflowClient(tracking_uri)

    def log_steps(self, rows: list[tuple[int, dict[str, float]]]) -> None:
        """Log ``[(step, {name: value})]`` in one asynchronous batch."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for step, losses in rows for k, v in losses.items()]
        for i in range(0, len(metrics), 1000):  # MLflow's per-batch limit
            self.client.log_batch(self.run_id, metrics=metrics[i : i + 1000], synchronous=False)

    def log_epoch(self, epoch: int, images: dict, ckpt_path: str | None) -> None:
        """The epoch's pictures (image slider: key, step = epoch) and checkpoint."""
        for key, image in images.items():
            self.client.log_image(self.run_id, image, key=key, step=epoch, synchronous=False)
        if ckpt_path:
            self.client.log_artifact(self.run_id, ckpt_path, artifact_path="checkpoint")
        self.mlflow.flush_async_logging()

    def tag(self, key: str, value: str) -> None:
        self.client.set_tag(self.run_id, key, value)

    def close(self) -> None:
        self.mlflow.flush_async_logging()
        self.mlflow.set_tracking_uri(self._previous_uri)  # in-process runs must not redirect later ones
