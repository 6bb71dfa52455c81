"""Rank 0's logging into the job's one MLflow run.

Metric points are committed with checkpoints: the loop holds each step's losses until the
next checkpoint, which carries them; :meth:`RunLogger.commit` uploads the checkpoint, then
logs its points and records the step they reach (tag ``gp.committed_step``). A worker group
that restarts from that checkpoint redoes only steps that were never logged, so a run that
survived any number of restarts has every step exactly once in its history, with the values
of the trajectory that produced its model. If a worker died between the upload and the
points, :meth:`RunLogger.recover` logs the missing ones from the checkpoint it resumes from.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor


class NullLogger:
    """What every rank but 0 gets: logs nothing."""

    records = False  # whether anything logged reaches a run (worth drawing pictures for)

    def log_steps(self, rows):
        pass

    def log_pictures(self, step, images):
        pass

    def log_epoch(self, epoch, images):
        pass

    def commit(self, ckpt_path, rows, step):
        pass

    def recover(self, rows, step):
        pass

    def tag(self, key, value):
        pass

    def close(self):
        pass


class RunLogger(NullLogger):
    """Logs into an existing run by id, so a restarted worker group continues it.

    MLflow is imported and its store opened in a background thread (seconds of a small
    CPU's time), beside the worker's set-up and first steps; each call waits for it,
    except :meth:`log_pictures`, which queues its work behind the opening in that thread.
    """

    records = True

    def __init__(self, run_id: str, tracking_uri: str):
        self._run, self.tracking_uri = run_id, tracking_uri
        self._previous_uri = os.environ.get("MLFLOW_TRACKING_URI")  # set_tracking_uri exports it: undone at close
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="gp-mlflow")
        self._opening = self._pool.submit(self._open)
        self._queued = []  # futures of log_pictures, in order

    def _open(self):
        import mlflow

        run_id = self._run
        mlflow.set_tracking_uri(self.tracking_uri)
        client = mlflow.tracking.MlflowClient(self.tracking_uri)
        client.get_run(run_id)  # opens the store; a wrong run id fails here
        return mlflow, client, run_id

    @property
    def mlflow(self):
        return self._opening.result()[0]

    @property
    def client(self):
        return self._opening.result()[1]

    @property
    def run_id(self) -> str:
        return self._opening.result()[2]

    def log_steps(self, rows: list[tuple[int, float, dict[str, float]]]) -> None:
        """Log ``[(step, wall time in seconds, {name: value})]`` in one asynchronous batch,
        each value stamped with the time its step ran."""
        Metric = self.mlflow.entities.Metric  # after the opening thread's import, never beside it
        metrics = [Metric(k, v, int(at * 1000), step) for step, at, losses in rows for k, v in losses.items()]
        for i in range(0, len(metrics), 1000):  # MLflow's per-batch limit
            self.client.log_batch(self.run_id, metrics=metrics[i : i + 1000], synchronous=False)

    def log_pictures(self, step: int, images: dict) -> None:
        """Log pictures at ``step`` without waiting for MLflow to open (e.g. step 0's, before
        the first training step); they land before any later epoch's, and an error in
        logging them is raised by the next :meth:`log_epoch` or :meth:`close`."""
        self._queued.append(self._pool.submit(self._log_images, step, images))

    def _log_images(self, step: int, images: dict) -> None:
        for key, image in images.items():
            self.client.log_image(self.run_id, image, key=key, step=step, synchronous=False)

    def _wait_queued(self) -> None:
        queued, self._queued = self._queued, []
        for future in queued:
            future.result()

    def log_epoch(self, epoch: int, images: dict) -> None:
        """The epoch's pictures (image slider: key, step = epoch)."""
        self._wait_queued()
        self._log_images(epoch, images)

    def commit(self, ckpt_path: str, rows: list, step: int) -> None:
        """Upload the checkpoint at ``step``, then log the points it carries (``rows``, the
        steps since the previous commit) and record that they are in (``gp.committed_step``)."""
        self._wait_queued()  # pictures queued before (a flush beside their logging would break it)
        self.client.log_artifact(self.run_id, ckpt_path, artifact_path="checkpoint")
        self.log_steps(rows)
        self.mlflow.flush_async_logging()
        self.tag("gp.committed_step", str(step))

    def recover(self, rows: list, step: int) -> None:
        """Log the points of the checkpoint at ``step`` that its commit did not get to
        (a worker died between the upload and the points); nothing if it did."""
        committed = self.client.get_run(self.run_id).data.tags.get("gp.committed_step")
        if not rows or (committed is not None and int(committed) >= step):
            return
        keys = {k for _, _, values in rows for k in values}
        top = {k: max((m.step for m in self.client.get_metric_history(self.run_id, k)), default=0) for k in keys}
        missing = [(s, at, {k: v for k, v in values.items() if s > top[k]}) for s, at, values in rows]
        self.log_steps([r for r in missing if r[2]])
        self.mlflow.flush_async_logging()
        self.tag("gp.committed_step", str(step))

    def tag(self, key: str, value: str) -> None:
        self.client.set_tag(self.run_id, key, value)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        try:
            self._wait_queued()
        finally:
            self.mlflow.flush_async_logging()
            self.mlflow.set_tracking_uri(self._previous_uri)  # in-process runs must not redirect later ones
