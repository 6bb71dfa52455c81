"""Benchmark 2, scaling: 2 Ray Train workers with one thread each against 1 worker with
one thread, same global batch, through gp's real worker loop (gloo on CPU).

Throughput is measured inside rank 0 (see raytime.py), so Ray's start-up is left out;
fits alternate (1, 2, 2, 1, ...). Target: 2 workers >= 1.8x one worker.
``--address`` measures through a running cluster (e.g. the two-node one) instead of a
local Ray; ``--ddp`` adds 2-worker runs with ``trainer.grad_sync=ddp`` (torch DDP) beside
gp's default (each update's gradients averaged in one all-reduce).

    python benchmarks/scaling.py                         # full: 4 models, 3 rounds
    python benchmarks/scaling.py --models vae --rounds 1 --steps 60   # a quick check
"""
from __future__ import annotations

import argparse

import harness
import raytime


def args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="vae,dcgan,aae,pixelcnn")
    p.add_argument("--batch", type=int, default=128, help="global batch size")
    p.add_argument("--steps", type=int, default=0, help="steps per fit (default: about 15 s of one worker)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--address", default=None, help="a running Ray cluster to use instead of a local one")
    p.add_argument("--ddp", action="store_true", help="also 2 workers with torch DDP (trainer.grad_sync=ddp)")
    return p.parse_args()


# Seconds per step of one 1-thread worker at batch 128 on this machine (rough), to size fits.
STEP_S = {"vae": 0.03, "aae": 0.06, "dcgan": 1.0, "pixelcnn": 3.0}


def measure(plugin: str, a) -> dict:
    steps = a.steps or max(30, int(15 / STEP_S.get(plugin, 0.2)))
    job = {"plugin": plugin, "data": {"name": a.data},
           "trainer": {"batch_size": a.batch, "threads": 1, "epochs": 1, "steps_per_epoch": steps}}  # default log_every
    contenders = {"1 worker": lambda: raytime.fit_throughput(job, 1),
                  "2 workers": lambda: raytime.fit_throughput(job, 2)}
    if a.ddp:
        ddp = {**job, "trainer": {**job["trainer"], "grad_sync": "ddp"}}
        contenders["2 workers, DDP"] = lambda: raytime.fit_throughput(ddp, 2)
    res = harness.alternate(contenders, a.rounds)
    one = res["1 worker"]
    out = {"model": plugin, "steps": steps, **res,
           "speedup": harness.median([b / s for b, s in zip(res["2 workers"], one)])}
    if a.ddp:
        out["ddp_speedup"] = harness.median([d / s for d, s in zip(res["2 workers, DDP"], one)])
    print(f"{plugin}: speed-up {out['speedup']:.2f}", flush=True)
    return out


def main() -> None:
    a = args()
    raytime.init_ray(a.address)
    results = []
    for m in a.models.split(","):
        results.append(measure(m, a))
        harness.save("scaling", {"args": vars(a), "results": results, "partial": True})
    rows = [[r["model"], f"{harness.median(r['1 worker']):.0f}", f"{harness.median(r['2 workers']):.0f}",
             f"{r['speedup']:.2f}", f"{r['ddp_speedup']:.2f}" if "ddp_speedup" in r else "-"] for r in results]
    print(f"\nscaling, global batch {a.batch}, 1 thread per worker, {a.rounds} rounds "
          f"(load {harness.machine()['load_avg']})")
    print(harness.table(["model", "1 worker img/s", "2 workers img/s", "speed-up", "speed-up with DDP"], rows))
    harness.save("scaling", {"args": vars(a), "results": results})


if __name__ == "__main__":
    main()
