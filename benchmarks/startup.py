"""Benchmark 3, start-up: seconds from launching ``gp submit`` to its first training step,
against a bare ``TorchTrainer.fit()`` with a trivial loop measured the same way, and the
time of ``gp --help``, ``gp plugins`` and ``gp runs`` (on a store of four runs besides the
benchmark's own).

Every contender is a fresh process started at T0; its first step is the wall-clock time
the loop stamps (bare: a file written at its first step; gp: the MLflow timestamp of the
first logged loss, with ``log_every=1``). Contenders alternate after one unmeasured warm-up
each (Ray's first start and gp's first store creation are slower). Ray settings measured:
Ray's defaults, gp's settings (orchestrate.RAY_ENV: health checks every 0.5 s, no preemption
watcher) and, with ``--cluster``, a local cluster already running (``ray start --head``).
"bare fit + Adam" builds an Adam optimizer before its first step, as a real loop does (torch
imports ``torch._dynamo`` for the first optimizer: about 1.4 s here).
Targets: gp within 1 s of bare Ray; well under 10 s on a running cluster; the CLI < 0.5 s.

    python benchmarks/startup.py --cluster            # full: 3 rounds
    python benchmarks/startup.py --rounds 1 --no-warmup   # a quick check
    python benchmarks/startup.py --cli-only           # the CLI commands alone (seconds)
    python benchmarks/startup.py --compare COMMIT --only "bare fit + Adam,gp submit"
                                                      # and gp submit of an older commit, side by side
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import harness
from raycluster import LocalCluster, client_env

HERE = pathlib.Path(__file__).resolve()
BIN = pathlib.Path(sys.executable).parent
JOB = ["plugin=vae", "data=digits", "trainer.epochs=1", "trainer.steps_per_epoch=2", "trainer.log_every=1",
       "trainer.threads=1", "model.hidden=16"]


def args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--cluster", action="store_true", help="also against an already running local cluster")
    p.add_argument("--no-warmup", action="store_true", help="skip the unmeasured first run of each")
    p.add_argument("--cli-only", action="store_true", help="only gp --help, gp plugins and gp runs")
    p.add_argument("--compare", default=None, help="also gp submit from this git commit (its platform/ and "
                   "plugins/ first on PYTHONPATH), alternating with the others")
    p.add_argument("--only", default=None, help="comma-separated contenders to run (by name)")
    p.add_argument("--child-bare", default=None, help=argparse.SUPPRESS)
    p.add_argument("--address", default=None, help=argparse.SUPPRESS)
    p.add_argument("--gp-env", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--adam", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args()


def bare_loop(config: dict) -> None:
    """A trivial training loop: stamp the first step, do two tiny steps (with an Adam
    optimizer built first if ``config['adam']``: torch imports ``torch._dynamo`` then)."""
    import torch

    w = torch.zeros(3, requires_grad=True)
    opt = torch.optim.Adam([w]) if config["adam"] else None
    with open(config["out"], "w") as fh:
        fh.write(str(time.time()))
    for _ in range(2):
        (w * 2).sum().backward()
        if opt:
            opt.step()


def child_bare(a) -> None:
    """The bare contender's process: TorchTrainer.fit() with nothing of gp."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    if a.gp_env or a.address:  # gp's way: explicit init, settings as runtime_env
        import ray

        from gp.orchestrate import RAY_ENV

        env = {k: os.environ[k] for k in RAY_ENV if k in os.environ}
        ray.init(address=a.address, logging_level="ERROR", log_to_driver=False, runtime_env={"env_vars": env})
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    storage = tempfile.mkdtemp(prefix="gp-bare-")
    TorchTrainer(bare_loop, train_loop_config={"out": a.child_bare, "adam": a.adam}, scaling_config=ScalingConfig(num_workers=1),
                 run_config=RunConfig(name="bare", storage_path=storage)).fit()
    shutil.rmtree(storage, ignore_errors=True)


def launch(cmd: list[str], env: dict) -> tuple[float, float]:
    """Run ``cmd``; (T0, seconds to exit). Fails loudly with its output."""
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed: {proc.stderr[-2000:]}")
    return t0, time.time() - t0


def bare(gp_env: bool, address: str | None = None, adam: bool = False):
    def go() -> dict:
        out = tempfile.mktemp(prefix="gp-bare-stamp-")
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_TRAIN_")}
        if gp_env:
            from gp.orchestrate import RAY_ENV

            env.update(RAY_ENV)
        cmd = [sys.executable, str(HERE), "--child-bare", out] + (["--gp-env"] if gp_env else []) + (["--adam"] if adam else [])
        t0, total = launch(cmd + (["--address", address] if address else []), client_env(env) if address else env)
        first = float(pathlib.Path(out).read_text()) - t0
        os.unlink(out)
        return {"first_step": first, "total": total}
    return go


def gp_submit(home: str, address: str | None = None, tree: str | None = None):
    """``gp submit`` of this checkout, or of the source tree ``tree`` (an older commit's worktree)."""
    def go() -> dict:
        env = dict(os.environ, GP_HOME=home)
        env.pop("MLFLOW_TRACKING_URI", None)
        gp = [str(BIN / "gp")]
        if tree:
            env["PYTHONPATH"] = os.pathsep.join([f"{tree}/platform", f"{tree}/plugins", env.get("PYTHONPATH", "")])
            gp = [sys.executable, "-c", "from gp.cli import main; main()"]
        cmd = [*gp, "submit", *JOB] + (["--address", address] if address else [])
        t0, total = launch(cmd, client_env(env) if address else env)
        return {"first_step": first_metric(home) - t0, "total": total}
    return go


def first_metric(home: str) -> float:
    """Wall time (s) of the first loss logged by the newest run in ``home``'s store."""
    from mlflow.tracking import MlflowClient

    c = MlflowClient(f"sqlite:///{home}/mlflow.db")
    run = c.search_runs([c.get_experiment_by_name("gp").experiment_id], order_by=["attributes.start_time DESC"],
                        max_results=1)[0]
    key = sorted(k for k in run.data.metrics if k.endswith("/loss"))[0]
    return min(m.timestamp for m in c.get_metric_history(run.info.run_id, key)) / 1000


def cli(*argv, home: str | None = None):
    def go() -> dict:
        env = dict(os.environ, **({"GP_HOME": home} if home else {}))
        if home:
            env.pop("MLFLOW_TRACKING_URI", None)
        return {"total": launch([str(BIN / "gp"), *argv], env)[1]}
    return go


def seed_runs(home: str, count: int = 4) -> None:
    """``count`` finished runs with gp's params and 200 logged steps each, in ``home``'s store."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    c = MlflowClient(f"sqlite:///{home}/mlflow.db")
    exp = c.get_experiment_by_name("gp")
    eid = exp.experiment_id if exp else c.create_experiment("gp", artifact_location=pathlib.Path(home, "artifacts").as_uri())
    for i in range(count):
        run = c.create_run(eid, tags={"gp.plugin": "vae"})
        steps = [Metric("model/loss", 1 / (s + 1), int(time.time() * 1000), s) for s in range(200)]
        c.log_batch(run.info.run_id, metrics=steps, params=[Param("data.name", "digits"), Param("trainer.epochs", "1")])
        c.set_terminated(run.info.run_id)


def worktree(commit: str) -> str:
    """A checkout of ``commit`` in a temporary folder (removed by the caller)."""
    folder = tempfile.mkdtemp(prefix="gp-compare-")
    subprocess.run(["git", "-C", str(HERE.parent), "worktree", "add", "--detach", folder, commit], check=True,
                   capture_output=True)
    return folder


def contenders(home: str, cluster: LocalCluster | None, tree: str | None = None, commit: str = "") -> dict:
    c = {"bare fit, Ray defaults": bare(False), "bare fit, gp's Ray settings": bare(True),
         "bare fit + Adam": bare(False, adam=True), "gp submit": gp_submit(home)}
    if tree:
        c[f"gp submit @{commit}"] = gp_submit(home, tree=tree)
    if cluster:
        c["bare fit, running cluster"] = bare(True, cluster.address)
        c["gp submit, running cluster"] = gp_submit(home, cluster.address)
    return c


def measure(a) -> dict:
    home = tempfile.mkdtemp(prefix="gp-bench-home-")
    cluster = LocalCluster().start() if a.cluster and not a.cli_only else None
    tree = worktree(a.compare) if a.compare else None
    try:
        seed_runs(home)
        commands = {"gp --help": cli("--help"), "gp plugins": cli("plugins"), "gp runs": cli("runs", home=home)}
        runs = commands if a.cli_only else {**contenders(home, cluster, tree, a.compare or ""), **commands}
        if a.only:
            wanted = [n.strip() for n in a.only.split(",")]
            runs = {n: fn for n, fn in runs.items() if n in wanted or (n.startswith("gp submit @") and tree)}
        if not a.no_warmup:
            for name, fn in runs.items():
                fn()
        return harness.alternate(runs, a.rounds)
    finally:
        if cluster:
            cluster.stop()
        if tree:
            subprocess.run(["git", "-C", str(HERE.parent), "worktree", "remove", "--force", tree], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    a = args()
    if a.child_bare:
        return child_bare(a)
    res = measure(a)
    base = harness.median([r["first_step"] for r in next(iter(res.values()), []) if "first_step" in r])
    rows, summary = [], {}
    for name, runs in res.items():
        first = harness.median([r.get("first_step") for r in runs])
        total = harness.median([r["total"] for r in runs])
        summary[name] = {"first_step": first, "total": total, "runs": runs}
        rows.append([name, harness.fmt(first), harness.fmt(total), "-" if first != first else f"{first - base:+.1f}"])
    print(f"\nstart-up, {a.rounds} rounds, medians in seconds (load {harness.machine()['load_avg']})")
    print(harness.table(["contender", "to first step", "to exit", f"vs {next(iter(res), '-')}"], rows))
    harness.save("startup", {"args": vars(a), "results": summary})


if __name__ == "__main__":
    main()
