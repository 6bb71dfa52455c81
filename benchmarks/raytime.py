"""gp's real worker path through Ray Train, timed from inside rank 0.

``fit_throughput`` runs ``gp.train.loop.run`` under ``TorchTrainer`` (as ``gp submit``
does, with gp's Ray settings) and a progress sink that stamps every record the loop
pushes (at most every 0.5 s, and at the end of the epoch): the steady-state throughput is
the steps between the first stamp after ``skip`` seconds and the last, over their time.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time

import harness


class StampSink:
    """A progress sink in the worker: keeps (wall time, step) of every record."""

    def __init__(self):
        self.stamps: list[tuple[float, int]] = []

    def push(self, record: dict) -> None:
        if "step" in record:
            self.stamps.append((time.time(), record["step"]))


def stamped_worker(config: dict) -> None:
    """Ray Train entry point: gp's loop with a stamping sink; rank 0 writes the stamps."""
    import ray.train

    from gp.train.loop import run
    from gp.train.session import RaySession

    sink = StampSink()
    run({**config, "sink": sink}, RaySession())
    if ray.train.get_context().get_world_rank() == 0:
        with open(config["out"], "w") as fh:
            json.dump(sink.stamps, fh)


def init_ray(address: str | None = None, num_cpus: int = 2) -> None:
    import cloudpickle
    import ray

    from gp.orchestrate import LOCAL_RAY_ENV, RAY_ENV

    for k, v in {**RAY_ENV, **({} if address else LOCAL_RAY_ENV)}.items():  # as gp submit sets them
        os.environ.setdefault(k, v)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    if not ray.is_initialized():
        ray.init(address=address, num_cpus=None if address else num_cpus, logging_level="ERROR", log_to_driver=False,
                 runtime_env={"env_vars": {k: os.environ[k] for k in RAY_ENV}})


def fit_throughput(job: dict, workers: int, skip: float = 2.0) -> float:
    """Steady-state images/s of one ``TorchTrainer.fit`` of gp's loop with ``workers`` workers."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    folder = tempfile.mkdtemp(prefix="gp-bench-")
    job = {**job, "trainer": {**job["trainer"], "num_workers": workers}}
    config = {"job": job, "out": os.path.join(folder, "stamps.json")}
    trainer = TorchTrainer(stamped_worker, train_loop_config=config,
                           scaling_config=ScalingConfig(num_workers=workers, resources_per_worker={"CPU": 1}),
                           run_config=RunConfig(name=f"bench-{int(time.time() * 1000)}", storage_path=folder))
    try:
        trainer.fit()
        with open(config["out"]) as fh:
            return steady([tuple(s) for s in json.load(fh)], job["trainer"]["batch_size"], skip)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def steady(stamps: list[tuple[float, int]], batch: int, skip: float) -> float:
    """Images/s between the first stamp ``skip`` s after the first one and the last stamp."""
    late = [s for s in stamps if s[0] - stamps[0][0] >= skip] or stamps[-2:]
    first = late[0] if len(late) > 1 else stamps[0]
    (ta, sa), (tb, sb) = first, stamps[-1]
    return (sb - sa) * batch / (tb - ta) if tb > ta else float("nan")


def ray_overhead(registry, data, a) -> list[dict]:
    """gp through Ray Train (1 worker) against the plain loop in this process, alternating."""
    from contenders import PlainRunner, job

    init_ray()
    results = []
    for plugin in a.models.split(","):
        plain = PlainRunner(registry, job(plugin, a.batch, threads=a.threads), data, a.device)
        plain.run(3)
        per_step = harness.timed(lambda: plain.run(3)) / 3
        steps = max(10, int(4 * a.seconds / per_step))
        name = "fashion-mnist" if a.data == "synthetic" else a.data  # the worker loads its own data
        gp_job = {"plugin": plugin, "data": {"name": name, "limit": a.limit},
                  "trainer": {"batch_size": a.batch, "threads": a.threads, "epochs": 1,
                              "steps_per_epoch": steps, "log_every": 1}}
        res = harness.alternate({"plain": lambda: _rate(plain, steps), "gp": lambda: fit_throughput(gp_job, 1)},
                                a.rounds)
        pairs = [g / p for g, p in zip(res["gp"], res["plain"])]
        results.append({"model": plugin, "where": " (ray)", "steps_per_round": steps, **res,
                        "ratio": harness.median(pairs),
                        "noise": max(harness.spread(res["plain"]), harness.spread(res["gp"]))})
        print(f"{plugin} through Ray: ratio {results[-1]['ratio']:.3f}", flush=True)
    return results


def _rate(runner, steps: int) -> float:
    t0 = time.perf_counter()
    images = runner.run(steps)
    return images / (time.perf_counter() - t0)
