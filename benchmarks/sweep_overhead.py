"""Benchmark, sweep overhead: a ``gp sweep`` trial against a single ``gp submit`` of the same
configuration (start-up, per step, wind-down), and trials per hour for a small model.

Both run as the user runs them (the ``gp`` command, a fresh local Ray, the local MLflow
store under a temporary GP_HOME). Times come from the runs themselves: a run's creation,
the wall-clock stamp MLflow keeps for each logged step, the run's end. For the sweep every
trial trains the same configuration (``model.lr=choice(LR)``), FIFO, so the trials differ
only in what the sweep adds: the Tune trial actor, its Ray Train controller and workers.

    python benchmarks/sweep_overhead.py                          # vae on digits, 4 trials, 2 at a time
    python benchmarks/sweep_overhead.py --trials 2 --steps 10    # quicker
"""
from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import harness

GP = str(pathlib.Path(sys.executable).parent / "gp")


def args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--plugin", default="vae")
    p.add_argument("--data", default="digits")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--steps", type=int, default=20, help="trainer.steps_per_epoch")
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--concurrent", type=int, default=2, help="--max-concurrent of the sweep")
    return p.parse_args()


def config(a) -> list[str]:
    return [f"plugin={a.plugin}", f"data={a.data}", f"trainer.epochs={a.epochs}", f"trainer.steps_per_epoch={a.steps}",
            "trainer.log_every=1", "model.lr=0.001"]


def run_gp(argv: list[str], home: str) -> tuple[float, float]:
    """(start, end) wall-clock seconds of one ``gp`` command; fails loudly."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")} | {"GP_HOME": home}
    t0 = time.time()
    proc = subprocess.run([GP, *argv], capture_output=True, text=True, env=env)
    if proc.returncode:
        sys.exit(f"gp {' '.join(argv)} failed:\n{proc.stdout}\n{proc.stderr}")
    return t0, time.time()


def phases(c, run, loss: str) -> dict:
    """A run's own times (s): created -> first step, per step, last step -> ended."""
    steps = sorted(c.get_metric_history(run.info.run_id, loss), key=lambda m: m.step)
    first, last = steps[0].timestamp / 1000, steps[-1].timestamp / 1000
    return {"created": run.info.start_time / 1000, "to_first_step": first - run.info.start_time / 1000,
            "per_step": (last - first) / max(len(steps) - 1, 1), "wind_down": run.info.end_time / 1000 - last,
            "steps": len(steps), "ended": run.info.end_time / 1000}


def measure_submit(a, home: str) -> dict:
    t0, t1 = run_gp(["submit", *config(a)], home)
    c = client(home)
    run = c.search_runs([c.get_experiment_by_name("gp").experiment_id])[0]
    out = phases(c, run, "model/loss")
    return out | {"wall": t1 - t0, "driver_to_run": out["created"] - t0, "start_to_first_step": out["created"] - t0 + out["to_first_step"]}


def measure_sweep(a, home: str) -> dict:
    fixed = [x for x in config(a) if not x.startswith("model.lr")]
    argv = ["sweep", *fixed, "model.lr=choice(0.001)", "--trials", str(a.trials), "--metric", "model/loss",
            "--scheduler", "fifo", "--max-concurrent", str(a.concurrent)]
    t0, t1 = run_gp(argv, home)
    c = client(home)
    runs = c.search_runs([c.get_experiment_by_name("gp").experiment_id], order_by=["attributes.start_time ASC"])
    parent, trials = runs[0], [phases(c, r, "model/loss") for r in runs[1:]]
    first_trial = min(t["created"] for t in trials)
    return {"wall": t1 - t0, "driver_to_parent": parent.info.start_time / 1000 - t0,
            "parent_to_first_trial": first_trial - parent.info.start_time / 1000,
            "trials": trials, "trials_per_hour": 3600 * len(trials) / (t1 - t0),
            "conclude": t1 - max(t["ended"] for t in trials)}


def client(home: str):
    os.environ["GP_HOME"] = home
    from gp import tracking

    return tracking.client()


def report(a, submit: dict, sweep: dict) -> None:
    med = lambda key: harness.median([t[key] for t in sweep["trials"]])  # noqa: E731
    rows = [
        ["process start -> run created (s)", harness.fmt(submit["driver_to_run"]), harness.fmt(sweep["driver_to_parent"]) + " (parent)"],
        ["parent created -> first trial run (s)", "-", harness.fmt(sweep["parent_to_first_trial"])],
        ["run created -> first step (s)", harness.fmt(submit["to_first_step"]), harness.fmt(med("to_first_step"))],
        ["per step (ms)", harness.fmt(1000 * submit["per_step"]), harness.fmt(1000 * med("per_step"))],
        ["last step -> run ended (s)", harness.fmt(submit["wind_down"]), harness.fmt(med("wind_down"))],
        ["wall, whole command (s)", harness.fmt(submit["wall"]), harness.fmt(sweep["wall"])],
    ]
    print(f"{a.plugin} on {a.data}, {a.epochs} epochs x {a.steps} steps; sweep: {a.trials} trials, "
          f"{a.concurrent} at a time (medians over trials)")
    print(harness.table(["", "gp submit", "gp sweep trial"], rows))
    print(f"\ntrials per hour: {sweep['trials_per_hour']:.0f} (sweep wall {sweep['wall']:.0f} s for {a.trials} trials)")


def main() -> None:
    a = args()
    with tempfile.TemporaryDirectory(prefix="gp-bench-") as tmp:
        submit = measure_submit(a, f"{tmp}/submit")
        sweep = measure_sweep(a, f"{tmp}/sweep")
    report(a, submit, sweep)
    harness.save("sweep_overhead", {"args": vars(a), "submit": submit, "sweep": sweep})


if __name__ == "__main__":
    main()
