"""The per-worker training loop (the function Ray Train runs on every worker).

``train_worker(config)`` is the Ray entry point; ``run(config, session)`` is ordinary
code that fast tests call with a :class:`LocalSession`. ``config`` is a plain dict:
``job`` (JobConfig as dict), ``run_id`` (optional: the MLflow run's id), ``tracking_uri``
and ``sink``.
"""
from __future__ import annotations

import itertools
import math
import os
import shutil
import time

import torch

from gp.config import JobConfig
from gp.contract import guard
from gp.data.spec import as_float, load
from gp.errors import DataError, GpError, first_line
from gp.plugins import load_registry
from gp.render import picture
from gp.train import checkpoint, layout
from gp.train.logger import NullLogger, RunLogger
from gp.train.session import RaySession
from gp.train.graph import build_stepper
from gp.train.step import batches, check_sources, draws_per_step, steps_per_epoch
from gp.progress import Reporter


def train_worker(config: dict) -> None:
    """Ray Train entry point."""
    run(config, RaySession())


def run(config: dict, session) -> dict:
    """Train the job's model on this worker; return a summary (epochs, step, status)."""
    job = JobConfig.model_validate(config["job"])
    t = job.trainer
    torch.set_num_threads(t.threads or max(1, (os.cpu_count() or 1) // session.world))
    torch.manual_seed(t.seed + session.rank)
    registry = load_registry()
    data = _load(registry, job, "train", session)
    cls = registry.model(job.plugin)
    model = cls(cls.Config.model_validate(job.model), data.spec)
    guard(model)  # an error in the plugin's code ends the run in one line, without retries
    layout.apply(model, t.channels_last)
    wrapped = session.prepare(model, t.grad_sync)
    check_sources(model, data)
    data.x, data.y = data.x.to(session.device), data.y.to(session.device)
    payload = _latest_checkpoint(config, session)
    epoch0, step, within, optimizers = _resume(session, model, t.epochs, payload)
    stepper = build_stepper(wrapped, model, optimizers, t, session.device, session.grad_sync)
    reporter = Reporter(config.get("sink") if session.rank == 0 else None)
    held_out = _held_out(registry, job, model, session)
    logger = _logger(config, session)  # opens MLflow in a thread, beside the first steps' computation
    if payload:
        logger.recover(payload.get("metrics", []), step)  # points its commit may not have logged
    loop = Loop(job, session, model, stepper, logger, reporter, step)
    loop.held_out, loop.sink = held_out, config.get("sink")
    loop.epoch_metrics = config.get("epoch_metrics")  # e.g. gp.sweep's eval metric: model -> {name: value}
    try:
        if payload is None:  # a new run, not one resumed from a checkpoint
            loop.first_pictures(data)
        return loop.epochs(data, epoch0, step, within)
    finally:
        logger.close()


def _latest_checkpoint(config: dict, session) -> dict | None:
    """The newest of Ray's checkpoint and the run's MLflow checkpoint, if any.

    Ray can lose a checkpoint reported just before a crash; rank 0 also uploads every
    checkpoint to the run, so a restarted worker group or a resumed run starts from the
    last epoch that was logged.
    """
    found = [checkpoint.load(p) for p in (session.checkpoint_path(), _mlflow_checkpoint(config, session)) if p]
    return max(found, key=lambda c: c["step"], default=None)


def _mlflow_checkpoint(config: dict, session) -> str | None:
    if config.get("run_id") is None or not _may_have_checkpoint(config, session):
        return None
    import tempfile

    from mlflow.tracking import MlflowClient

    c, run_id = MlflowClient(config["tracking_uri"]), config["run_id"]
    if not c.list_artifacts(run_id, "checkpoint"):
        return None
    return c.download_artifacts(run_id, "checkpoint/model.pt", tempfile.mkdtemp(prefix="gp-resume-"))


def _may_have_checkpoint(config: dict, session) -> bool:
    """False only for a new run's first workers: they skip opening the store here (slow).

    The driver's sink answers whether any worker of this job began before (so this is a
    restarted worker group); a rank that asks after another rank of the first group began
    looks, and finds nothing, as no epoch has ended yet.
    """
    sink = config.get("sink")
    if config.get("job", {}).get("resume") or not hasattr(sink, "began"):
        return True
    return session.ask(sink.began)


def _resume(session, model, epochs: int, payload: dict | None) -> tuple[int, int, int, dict]:
    """Restore ``payload`` if any: (whole epochs done, steps done, steps done into the next
    epoch, optimizers). Training resumes in the checkpoint's phase (its optimizers' phase),
    even if a new ``trainer.epochs`` schedules phases differently; the loop then moves on."""
    done, within = (payload["epoch"], payload.get("epoch_step", 0)) if payload else (0, 0)
    scheduled = model.phases(epochs)[min(done if within else max(done - 1, 0), epochs - 1)]
    model.begin_phase(payload.get("phase", scheduled) if payload else scheduled)
    optimizers = model.configure_optimizers()
    if not payload:
        return 0, 0, 0, optimizers
    return (*checkpoint.restore(payload, model, optimizers), optimizers)


def _held_out(registry, job, model, session):
    """Up to 2,000 test examples for ``model.figures`` (rank 0 only, if it draws any)."""
    if session.rank != 0 or not callable(getattr(model, "figures", None)):
        return None
    test = _load(registry, job, "test", session).subset(2000)
    test.x, test.y = as_float(test.x.to(session.device)), test.y.to(session.device)  # figures take floats
    return test


def _load(registry, job, split: str, session):
    """A split of the job's data; on a Ray worker, a dataset error names the worker's node
    (a dataset can be on the driver's machine and missing on another) and is a
    :class:`~gp.errors.DataError`, which Ray Train does not retry."""
    try:
        return load(registry, job.data, split)
    except GpError as exc:
        node = getattr(session, "node", None)
        if node is None:
            raise
        raise DataError(f"on node {node}: {first_line(exc)}") from None


def _logger(config: dict, session):
    if session.rank != 0 or config.get("run_id") is None:
        return NullLogger()
    return RunLogger(config["run_id"], config["tracking_uri"])


class Loop:
    """Epochs of steps; logging, non-finite checks, samples and checkpoints."""

    def __init__(self, job, session, model, stepper, logger, reporter, step: int = 0):
        self.job, self.t, self.session, self.model = job, job.trainer, session, model
        self.stepper, self.logger, self.report = stepper, logger, reporter
        self.pending: list[tuple[int, float, dict]] = []  # points the next checkpoint commits (gp.train.logger)
        self.committed, self.committed_at = step, time.time()  # the last checkpoint's step, and when
        self.epoch_step = 0  # steps done in the current epoch
        self.buffer: list[tuple[int, float, dict]] = []  # (step, wall time, losses on the device)
        self.bad = self.stop = torch.zeros((), device=session.device)
        self.sink, self.asked = None, 0.0  # the driver's progress sink (asked whether to stop) and when last
        self.held_out = None
        self.epoch_metrics = None  # optional: model -> {name: value}, on rank 0 at each epoch end
        self.sums: dict[str, list[float]] = {}  # this epoch's loss totals and counts, for the epoch's report

    def epochs(self, data, epoch0: int, step: int, within: int = 0) -> dict:
        """Train from ``epoch0`` (``within`` of its steps done already) to the last epoch."""
        schedule = self.model.phases(self.t.epochs)
        for epoch in range(epoch0, self.t.epochs):
            if schedule[epoch] != self.model.phase:
                self.model.begin_phase(schedule[epoch])
                self.stepper.use(self.model.configure_optimizers())
            sources, per_epoch = self.model.batch_sources, self._steps_per_epoch(len(data.x))
            inputs = batches(data, self.session.rank, self.session.world, self.t.batch_size,
                             self.t.seed, epoch, self.t.steps_per_epoch, sources)
            self.epoch_step, within = within, 0
            for batch in itertools.islice(inputs, self.epoch_step, None):  # the same batches as before a restart
                step, self.epoch_step = step + 1, self.epoch_step + 1
                self.buffer.append((step, time.time(), self.stepper(batch)))
                if step % self.t.log_every == 0:
                    if not self._flush(epoch, step, per_epoch):
                        return self._stop_nonfinite(epoch, step)
                    if self.stop.item():
                        return self._stopped(epoch, step)
                    self._checkpoint_within(epoch, step)
            if not self._flush(epoch, step, per_epoch, force=True):
                return self._stop_nonfinite(epoch, step)
            self._end_epoch(epoch + 1, step, data)
        return {"status": "finished", "epochs": self.t.epochs, "step": step, "digest": checkpoint.digest(self.model)}

    def _steps_per_epoch(self, n: int) -> int:
        per_step = draws_per_step(self.model.batch_sources)
        return steps_per_epoch(n, self.t.batch_size, self.session.world, self.t.steps_per_epoch, per_step)

    def _flush(self, epoch: int, step: int, per_epoch: int, force: bool = False) -> bool:
        """Read buffered losses back (one sync), log them; False if any is non-finite."""
        if not self.buffer:
            return True
        keys = list(self.buffer[0][2])
        values = torch.stack([torch.stack([l[k] for k in keys]) for _, _, l in self.buffer])  # (S, K)
        flags = torch.stack([(~torch.isfinite(values)).any().float(), self._stop_asked().to(values.device)])
        self.bad, self.stop = self.session.all_max(flags).unbind()  # every rank learns rank 0's stop
        rows = [(s, at, dict(zip(keys, v))) for (s, at, _), v in zip(self.buffer, values.tolist())]
        self.buffer = []
        if self.bad.item():
            rows = [r for r in rows if all(math.isfinite(v) for v in r[2].values())]
        if self.logger.records:
            self.pending.extend(rows)  # logged when the next checkpoint commits them
        for _, _, losses in rows:
            for k, v in losses.items():
                total = self.sums.setdefault(k, [0.0, 0])
                total[0], total[1] = total[0] + v, total[1] + 1
        if rows:
            self.report({"epoch": epoch + 1, "epochs": self.t.epochs, "step": step,
                         "total_steps": per_epoch * self.t.epochs, "losses": rows[-1][2]}, force)
        return not self.bad.item()

    def _stop_asked(self) -> torch.Tensor:
        """1 if the driver asked to stop (``gp stop``, Ctrl-C); rank 0 asks at most once a second."""
        now = time.monotonic()
        if self.session.rank != 0 or not hasattr(self.sink, "stopping") or now - self.asked < 1:
            return torch.zeros(())
        self.asked = now
        return torch.tensor(float(self.session.ask(self.sink.stopping)))

    def _stopped(self, epoch: int, step: int) -> dict:
        """Stop where the driver asked to, committing a checkpoint there (rank 0)."""
        if self.session.rank == 0 and self.logger.records:
            shutil.rmtree(self._commit(epoch, step, self.epoch_step), ignore_errors=True)
        self.report({"event": "stopped", "step": step}, force=True)
        return {"status": "stopped", "epochs": epoch, "step": step}

    def _stop_nonfinite(self, epoch: int, step: int) -> dict:
        msg = (f"loss became NaN or infinite in epoch {epoch + 1} by step {step}; "
               f"kept the last checkpoint, at step {self.committed}")
        self.logger.tag("gp.failure", msg)
        self.report({"event": "nonfinite", "message": msg}, force=True)
        return {"status": "nonfinite", "epochs": epoch, "step": step, "message": msg}

    def _end_epoch(self, epoch: int, step: int, data) -> None:
        """Samples and checkpoint on rank 0, which commits the epoch's metric points with it;
        every rank reports (a barrier)."""
        directory, metrics = None, self._epoch_means()
        if self.session.rank == 0:
            if self.epoch_metrics is not None:
                scores = self.epoch_metrics(self.model)
                self.pending += [(step, time.time(), scores)] if self.logger.records else []
                metrics.update(scores)
            self.logger.log_epoch(epoch, self._pictures(data))
            directory = self._commit(epoch, step)
        self.session.report({"epoch": epoch, "step": step, **metrics}, directory, f"epoch-{epoch:04d}")
        if directory and not self.session.keeps_checkpoint_dirs:
            shutil.rmtree(directory, ignore_errors=True)
        self.report({"event": "epoch", "epoch": epoch}, force=True)

    def _checkpoint_within(self, epoch: int, step: int) -> None:
        """A checkpoint within the epoch (rank 0, into the run only) when ``trainer.checkpoint_every_s``
        seconds or ``checkpoint_every_steps`` steps have passed since the last one."""
        every = self.t.checkpoint_every_steps
        due = time.time() - self.committed_at >= self.t.checkpoint_every_s or (every and step - self.committed >= every)
        if self.session.rank != 0 or not self.logger.records or not due:
            return
        shutil.rmtree(self._commit(epoch, step, self.epoch_step), ignore_errors=True)

    def _commit(self, epoch: int, step: int, within: int = 0) -> str:
        """Save a checkpoint with the pending metric points and commit both to the run; its folder."""
        directory = self.session.scratch()
        payload = checkpoint.state(self.model, self.stepper.optimizers, epoch, step, within, self.pending)
        self.logger.commit(checkpoint.save(directory, payload), self.pending, step)
        self.pending, self.committed, self.committed_at = [], step, time.time()
        return directory

    def _epoch_means(self) -> dict[str, float]:
        """Each loss's mean over the epoch's logged steps (reported with the epoch, e.g. to Ray Tune)."""
        means, self.sums = {k: total / count for k, (total, count) in self.sums.items()}, {}
        return means

    @torch.no_grad()
    def _pictures(self, data) -> dict:
        """The epoch's sample picture plus the model's own figures, keyed for MLflow."""
        self.model.eval()
        images = {"samples": picture(self.model.sample(self.t.samples), self.model.data.kind, data.x[:2000])}
        if self.held_out is not None:
            images.update(self.model.figures(self.held_out))
        self.model.train()
        return images

    def first_pictures(self, data) -> None:
        """The untrained model's pictures at step 0 (rank 0, a new run): MLflow's image
        slider opens at step 0, so the run page shows a picture at once. Drawn under a
        forked RNG (training stays as without them) and logged in the logger's thread."""
        if not self.logger.records:
            return
        device = self.session.device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            images = self._pictures(data)
        self.logger.log_pictures(0, images)
