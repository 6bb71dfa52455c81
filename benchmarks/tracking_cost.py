"""Benchmark 5, tracking cost: time per training step spent in MLflow calls, with a local
tracking server (``mlflow server``, SQLite store, proxied artifacts).

Two measurements:
1. calls: time in gp's RunLogger.log_steps (asynchronous, what the loop calls every
   ``log_every`` steps with every step's losses) against the same batches logged
   synchronously; the per-epoch ``log_epoch`` (an image grid and a checkpoint, then a flush)
   amortised over an epoch of Fashion-MNIST at batch 128 (468 steps); and the wait for the
   server at a flush, per step. Target: well under 1 ms per step.
2. end to end: gp's loop on a fast model (vae) logging into the server against the same
   loop logging nothing, alternating; the ratio includes the logging thread's CPU time.

    python benchmarks/tracking_cost.py                   # full
    python benchmarks/tracking_cost.py --steps 200 --rounds 1   # a quick check
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np
import torch

import harness
from raycluster import free_port

KEYS = ("model/loss", "model/recon_nll", "model/kl")


def args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2000, help="simulated steps per round of the call timing")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--epoch-steps", type=int, default=468, help="steps per epoch, to amortise log_epoch")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--e2e-seconds", type=float, default=3.0, help="length of one end-to-end round")
    return p.parse_args()


class Server:
    """``mlflow server`` on a free port with a throwaway store."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="gp-mlflow-")
        self.uri = f"http://127.0.0.1:{free_port()}"

    def __enter__(self):
        mlflow = os.path.join(os.path.dirname(sys.executable), "mlflow")
        port = self.uri.rsplit(":", 1)[1]
        self.proc = subprocess.Popen([mlflow, "server", "--host", "127.0.0.1", "--port", port, "--workers", "1",
                                      "--backend-store-uri", f"sqlite:///{self.dir}/mlflow.db",
                                      "--artifacts-destination", f"{self.dir}/artifacts"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.uri + "/health", timeout=1)
                return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("mlflow server did not start")

    def __exit__(self, *exc):
        for sig in (signal.SIGTERM, signal.SIGKILL):  # the server and its workers: our process group
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=10)
                break
            except (subprocess.TimeoutExpired, ProcessLookupError):
                continue
        shutil.rmtree(self.dir, ignore_errors=True)


def new_run(uri: str) -> str:
    from mlflow.tracking import MlflowClient

    c = MlflowClient(uri)
    exp = c.get_experiment_by_name("bench") or c.get_experiment(c.create_experiment("bench"))
    return c.create_run(exp.experiment_id).info.run_id


def call_costs(uri: str, a) -> dict:
    """Seconds spent in the logger's calls for ``a.steps`` steps, async and sync."""
    from gp.train.logger import RunLogger

    logger = RunLogger(new_run(uri), uri)
    logger.client  # wait for its opening thread (start-up, not per-step cost)
    rows = [(s, time.time(), {k: float(np.random.rand()) for k in KEYS}) for s in range(a.steps)]
    chunks = [rows[i : i + a.log_every] for i in range(0, len(rows), a.log_every)]

    flushes: dict[str, list] = {"async (gp)": [], "sync": []}

    def spent(sync: bool):
        def go():
            t = 0.0
            for chunk in chunks:
                t0 = time.perf_counter()
                if sync:  # MLflow only through the logger: it imports MLflow in its own thread
                    Metric = logger.mlflow.entities.Metric
                    logger.client.log_batch(logger.run_id, metrics=[Metric(k, v, 0, s) for s, _, l in chunk
                                                                    for k, v in l.items()], synchronous=True)
                else:
                    logger.log_steps(chunk)
                t += time.perf_counter() - t0
            flushes["sync" if sync else "async (gp)"].append(harness.timed(logger.close))
            return t / a.steps
        return go

    res = harness.alternate({"async (gp)": spent(False), "sync": spent(True)}, a.rounds)
    epoch = epoch_cost(logger)
    return {**res, "flush_s": flushes, "log_epoch_s": epoch, "log_epoch_per_step": epoch / a.epoch_steps}


def epoch_cost(logger) -> float:
    """Seconds of an epoch's logging: a 64-image grid, then the commit of a ~2 MB checkpoint (and a flush)."""
    from gp.render import grid

    folder = tempfile.mkdtemp(prefix="gp-ckpt-")
    path = os.path.join(folder, "model.pt")
    torch.save({"w": torch.rand(500_000)}, path)
    image = grid(torch.rand(64, 1, 28, 28))
    t = harness.timed(lambda: (logger.log_epoch(1, {"samples": image}), logger.commit(path, [], 1)))
    shutil.rmtree(folder, ignore_errors=True)
    return t


def end_to_end(uri: str, a) -> dict:
    """gp's loop on vae logging into ``uri`` against the same loop logging nothing."""
    from contenders import GpRunner, dataset, job
    from gp.plugins import load_registry
    from gp.train.logger import RunLogger

    registry = load_registry()
    data = dataset(registry, "fashion-mnist", None, "cpu")
    tracked = GpRunner(registry, job("vae", 128, threads=1), data, "cpu", logger=RunLogger(new_run(uri), uri))
    silent = GpRunner(registry, job("vae", 128, threads=1), data, "cpu")
    silent.run(5)
    steps = max(20, int(a.e2e_seconds / (harness.timed(lambda: silent.run(10)) / 10)))

    def rate(runner):
        def go():
            t0 = time.perf_counter()
            images = runner.run(steps)
            runner.logger.close()  # the flush at the end of an epoch
            return images / (time.perf_counter() - t0)
        return go

    res = harness.alternate({"no tracking": rate(silent), "mlflow server": rate(tracked)}, a.rounds)
    return {**res, "steps": steps,
            "ratio": harness.median([t / s for t, s in zip(res["mlflow server"], res["no tracking"])])}


def main() -> None:
    a = args()
    torch.set_num_threads(1)
    with Server() as server:
        calls = call_costs(server.uri, a)
        e2e = end_to_end(server.uri, a)
    ms = lambda s: f"{1000 * s:.3f}"  # noqa: E731
    rows = [[f"log_steps, {name}, every {a.log_every} steps", ms(harness.median(calls[name]))]
            for name in ("async (gp)", "sync")]
    rows.append([f"log_epoch (grid + checkpoint + flush) / {a.epoch_steps} steps", ms(calls["log_epoch_per_step"])])
    flush = harness.median(calls["flush_s"]["async (gp)"])
    rows.append([f"waiting for the server at the flush after {a.steps} steps (async)", ms(flush / a.steps)])
    print(f"\ntracking cost per step, local MLflow server, {a.rounds} rounds (load {harness.machine()['load_avg']})")
    print(harness.table(["MLflow calls", "ms per step"], rows))
    print(f"end to end (vae, batch 128, 1 thread): tracked / untracked throughput = {e2e['ratio']:.3f}")
    harness.save("tracking_cost", {"args": vars(a), "calls": calls, "end_to_end": e2e})


if __name__ == "__main__":
    main()
