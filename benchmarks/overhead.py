"""Benchmark 1, overhead: gp's steady-state training throughput against a plain PyTorch loop.

Same model, batch, data, threads and device, one worker, in one process; the contenders
alternate in rounds and the table gives images/s and the ratio gp / plain (target >= 0.98).
With ``--ray`` gp also trains through Ray Train (one worker, its real ``train_worker``)
and its throughput inside the worker is compared with the plain loop in the driver.

    python benchmarks/overhead.py                       # full: 4 models, 7 rounds of ~3 s
    python benchmarks/overhead.py --rounds 2 --seconds 0.5 --models vae   # a quick check
"""
from __future__ import annotations

import argparse
import time

import torch

import harness
from contenders import GpRunner, PlainRunner, dataset, job, synthetic, sync

MODELS = "vae,dcgan,aae,pixelcnn"


def args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=MODELS, help="comma-separated plugin names")
    p.add_argument("--batch", type=int, default=128, help="batch size (gp's default)")
    p.add_argument("--threads", type=int, default=1, help="torch threads of both contenders")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--seconds", type=float, default=3.0, help="target length of one contender's round")
    p.add_argument("--data", default="fashion-mnist", help="registered dataset, or 'synthetic'")
    p.add_argument("--limit", type=int, default=None, help="use the first N training examples")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--ray", action="store_true", help="also gp through Ray Train (1 worker)")
    return p.parse_args()


def steps_for(runner, seconds: float, batch: int) -> int:
    """Warm up, then the number of steps that takes about ``seconds``."""
    runner.run(3)
    per_step = harness.timed(lambda: runner.run(3)) / 3
    return max(3, int(seconds / per_step))


def compare(registry, plugin: str, data, a) -> dict:
    j = lambda: job(plugin, a.batch, threads=a.threads)  # noqa: E731
    plain, gp = PlainRunner(registry, j(), data, a.device), GpRunner(registry, j(), data, a.device)
    steps = steps_for(plain, a.seconds, a.batch)
    steps_for(gp, a.seconds, a.batch)

    def rate(runner):
        def go():
            t0 = time.perf_counter()
            images = runner.run(steps)
            return images / (time.perf_counter() - t0)
        return go

    res = harness.alternate({"plain": rate(plain), "gp": rate(gp)}, a.rounds)
    pairs = [g / p for g, p in zip(res["gp"], res["plain"])]
    return {"model": plugin, "steps_per_round": steps, "plain": res["plain"], "gp": res["gp"],
            "ratio": harness.median(pairs), "noise": max(harness.spread(res["plain"]), harness.spread(res["gp"])),
            "graph": getattr(gp.stepper, "captured", False)}


def main() -> None:
    a = args()
    torch.set_num_threads(a.threads)
    from gp.plugins import load_registry

    registry = load_registry()
    data = synthetic(device=a.device) if a.data == "synthetic" else dataset(registry, a.data, a.limit, a.device)
    results = []
    for plugin in a.models.split(","):
        results.append(compare(registry, plugin, data, a))
        r = results[-1]
        print(f"{plugin}: plain {harness.median(r['plain']):.0f} img/s, gp {harness.median(r['gp']):.0f} img/s, "
              f"ratio {r['ratio']:.3f}", flush=True)
        harness.save("overhead", {"args": vars(a), "results": results, "partial": True})
    if a.ray:
        from raytime import ray_overhead

        results += ray_overhead(registry, data, a)
    rows = [[r["model"] + r.get("where", ""), f"{harness.median(r['plain']):.0f}", f"{harness.median(r['gp']):.0f}",
             f"{r['ratio']:.3f}", f"±{100 * r['noise']:.1f}%"] for r in results]
    print(f"\noverhead on {a.device}, batch {a.batch}, {a.threads} thread(s), {a.rounds} rounds "
          f"(load {harness.machine()['load_avg']})")
    print(harness.table(["model", "plain img/s", "gp img/s", "gp/plain", "noise"], rows))
    harness.save("overhead", {"args": vars(a), "results": results})


if __name__ == "__main__":
    main()
