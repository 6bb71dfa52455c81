"""Benchmark 4, GPU: gp's training step against plain PyTorch on one GPU (no Ray needed).

Both sides use TF32, Adam's fused kernel and data resident on the GPU (synthetic
28x28 images, 60,000 of them). Sections, each bounded by the time budget:
  dcgan    DCGAN at batch 256, 1024, 4096: plain eager, a hand-written CUDA graph of the
           same step, gp with cuda_graph=false (eager) and gp's default (one CUDA graph per
           step). Targets: gp >= 3x plain eager at 256, >= 1.25x at 1024, never slower.
  models   each model's ratio at batch 256 (vae, dcgan, aae, pixelcnn): plain eager,
           gp eager, gp (its default: captured where the model allows).
  losses   the same seed trained eagerly and captured: mean of the last losses of each
           (within noise?) and the largest difference over the first steps.
  variants DCGAN with bf16 autocast and channels-last, captured.
  others   the ratio of every other registered image model, while the budget lasts.
``GP_BENCH_SMOKE=1`` (or --smoke) runs everything tiny, on the CPU if there is no GPU.

    python benchmarks/gpu.py            # on the GPU machine: see benchmarks/run_gpu.sh
    GP_BENCH_SMOKE=1 python benchmarks/gpu.py   # a check of the script on a CPU
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
import traceback

import torch

import harness
from contenders import GpRunner, PlainGraphRunner, PlainRunner, job, sync, synthetic

MODELS = ["vae", "dcgan", "aae", "pixelcnn"]


def args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", default=os.environ.get("GP_BENCH_SMOKE") == "1")
    p.add_argument("--budget", type=float, default=float(os.environ.get("GP_BENCH_BUDGET", 210)),
                   help="seconds; later sections are skipped once spent")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=0.4, help="length of one contender's round")
    p.add_argument("--loss-steps", type=int, default=300)
    p.add_argument("--sections", default="dcgan,models,losses,variants,others")
    a = p.parse_args()
    a.device = "cuda" if torch.cuda.is_available() else "cpu"
    if a.smoke:
        a.rounds, a.seconds, a.loss_steps = 1, 0.05, 12
    return a


class Bench:
    def __init__(self, a):
        from gp.plugins import load_registry

        self.a, self.t0, self.registry = a, time.time(), load_registry()
        self.data = synthetic(n=2048 if a.smoke else 60_000, device=a.device)
        self.out: dict = {"args": vars(a), "skipped": []}

    def left(self) -> float:
        return self.a.budget - (time.time() - self.t0)

    def model_cfg(self, plugin: str) -> dict:
        return dict(self.registry.model(plugin).tiny) if self.a.smoke else {}

    def runner(self, kind: str, plugin: str, batch: int, **trainer):
        j = job(plugin, batch, self.model_cfg(plugin), **trainer)
        cls = {"plain": PlainRunner, "plain graph": PlainGraphRunner, "gp": GpRunner}[kind]
        return cls(self.registry, j, self.data, self.a.device)

    def race(self, runners: dict, batch: int) -> dict:
        """Alternating rounds of about ``seconds``; median ms per step of each runner."""
        steps, failed = {}, {}
        for name, r in list(runners.items()):
            try:
                r.run(6)  # warm-up (and capture)
                steps[name] = max(5, int(self.a.seconds / (harness.timed(lambda: r.run(5)) / 5)))
            except Exception as exc:  # report it and race the others
                traceback.print_exc()
                failed[name] = {"ms": float("nan"), "img_s": float("nan"), "graph": f"error: {harness_line(exc)}"}
                runners.pop(name)

        def go(name):
            def once():
                r = runners[name]
                sync(r.device)
                t0 = time.perf_counter()
                r.run(steps[name])
                return 1000 * (time.perf_counter() - t0) / steps[name]
            return once

        res = harness.alternate({n: go(n) for n in runners}, self.a.rounds)
        return {**{n: {"ms": harness.median(v), "img_s": 1000 * batch / harness.median(v), "rounds": v,
                       "graph": _graph_state(runners[n])} for n, v in res.items()}, **failed}


def _graph_state(runner) -> str:
    stepper = getattr(runner, "stepper", None)
    if stepper is None:
        return "graph" if getattr(runner, "graph", None) is not None else "eager"
    if getattr(stepper, "captured", False):
        return "graph"
    return "eager: " + (getattr(stepper, "reason", None) or "cuda_graph off")


def dcgan_section(b: Bench) -> list[list]:
    rows, batches = [], ([16, 32] if b.a.smoke else [256, 1024, 4096])
    results = {}
    for batch in batches:
        runners = {"plain eager": b.runner("plain", "dcgan", batch), "gp eager": b.runner("gp", "dcgan", batch,
                                                                                         cuda_graph=False),
                   "gp": b.runner("gp", "dcgan", batch)}
        if b.a.device == "cuda":
            runners["plain graph"] = b.runner("plain graph", "dcgan", batch)
        res = b.race(runners, batch)
        results[batch] = res
        base = res["plain eager"]["ms"]
        for name, r in res.items():
            rows.append([f"dcgan b{batch}", name, f"{r['ms']:.2f}", f"{r['img_s'] / 1000:.1f}k",
                         f"{base / r['ms']:.2f}", r["graph"][:50]])
        print(f"dcgan batch {batch}: gp {base / res['gp']['ms']:.2f}x plain eager", flush=True)
    b.out["dcgan"] = results
    return rows


def models_section(b: Bench, names=MODELS, key="models") -> list[list]:
    batch = 32 if b.a.smoke else 256
    rows, results = [], {}
    for plugin in names:
        if plugin not in b.registry.models:
            rows.append([plugin, "-", "-", "-", "-", "not registered"])
            continue
        if b.left() < 20:
            b.out["skipped"].append(f"models:{plugin}")
            continue
        try:
            res = b.race({"plain eager": b.runner("plain", plugin, batch),
                          "gp eager": b.runner("gp", plugin, batch, cuda_graph=False),
                          "gp": b.runner("gp", plugin, batch)}, batch)
        except Exception as exc:
            rows.append([plugin, "-", "-", "-", "-", f"error: {harness_line(exc)}"])
            traceback.print_exc()
            continue
        results[plugin] = res
        base = res["plain eager"]["ms"]
        rows.append([plugin, f"{base:.2f}", f"{res['gp eager']['ms']:.2f}", f"{res['gp']['ms']:.2f}",
                     f"{base / res['gp']['ms']:.2f}", res["gp"]["graph"][:50]])
        print(f"{plugin}: gp {base / res['gp']['ms']:.2f}x plain eager ({res['gp']['graph'][:60]})", flush=True)
    b.out[key] = results
    return rows


def others_section(b: Bench) -> list[list]:
    """The other registered image models, while the budget lasts."""
    names = sorted(n for n, (cls, _) in b.registry.models.items() if "image" in cls.kinds and n not in MODELS)
    return models_section(b, names, "others")


def losses_section(b: Bench) -> list[list]:
    batch, n = (32 if b.a.smoke else 256), b.a.loss_steps
    tail = max(5, n // 6)
    rows, results = [], {}
    for plugin in [m for m in MODELS if m in b.registry.models]:
        if b.left() < 20:
            b.out["skipped"].append(f"losses:{plugin}")
            continue
        curves = {}
        try:
            for name, mode in (("eager", False), ("graph", "auto")):
                r = b.runner("gp", plugin, batch, cuda_graph=mode, log_every=1)
                torch.manual_seed(1)
                r.run(n)
                curves[name] = r.losses[:n]
                curves[name + "_state"] = _graph_state(r)
        except Exception as exc:
            rows.append([plugin, "-", "-", "-", "-", "-", f"error: {harness_line(exc)}"])
            continue
        for key in curves["eager"][0]:
            e = [row[key] for row in curves["eager"]]
            g = [row[key] for row in curves["graph"]]
            me, mg = statistics.fmean(e[-tail:]), statistics.fmean(g[-tail:])
            sd = statistics.pstdev(e[-tail:] + g[-tail:]) or 1e-12
            first = max(abs(x - y) / max(abs(x), 1e-6) for x, y in zip(e[:10], g[:10]))
            ok = abs(me - mg) <= sd
            results.setdefault(plugin, {})[key] = {"eager": me, "graph": mg, "sd": sd, "first10_rel": first,
                                                   "ok": ok, "graph_state": curves["graph_state"]}
            rows.append([plugin, key, f"{me:.4g}", f"{mg:.4g}", f"{abs(me - mg) / sd:.2f}", f"{first:.1e}",
                         ("ok" if ok else "DIFFERS") + ("" if curves["graph_state"] == "graph" else " (not captured)")])
    b.out["losses"] = {"steps": n, "tail": tail, "results": results}
    return rows


def variants_section(b: Bench) -> list[list]:
    rows, results = [], {}
    for batch in ([16] if b.a.smoke else [256, 1024]):
        if b.left() < 30:
            b.out["skipped"].append(f"variants:{batch}")
            continue
        nchw = {"channels_last": False}
        runners = {"gp fp32": b.runner("gp", "dcgan", batch, **nchw),
                   "gp bf16": b.runner("gp", "dcgan", batch, precision="bf16", **nchw),
                   "gp fp32 channels-last": channels_last(b.runner("gp", "dcgan", batch, **nchw)),
                   "gp bf16 channels-last": channels_last(b.runner("gp", "dcgan", batch, precision="bf16", **nchw))}
        res = b.race(runners, batch)
        results[batch] = res
        base = res["gp fp32"]["ms"]
        for name, r in res.items():
            rows.append([f"dcgan b{batch}", name, f"{r['ms']:.2f}", f"{base / r['ms']:.2f}", r["graph"][:40]])
    b.out["variants"] = results
    return rows


def channels_last(runner):
    """The runner's model and data in channels-last memory format."""
    runner.model.to(memory_format=torch.channels_last)
    d = runner.data
    runner.data = type(d)(d.x.contiguous(memory_format=torch.channels_last), d.y, d.spec)
    return runner


def harness_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:120] if text else ''}"


SECTIONS = {
    "dcgan": (dcgan_section, ["case", "contender", "ms/step", "img/s", "x plain eager", "step"]),
    "models": (models_section, ["model", "plain eager ms", "gp eager ms", "gp ms", "gp x plain", "gp step"]),
    "others": (others_section, ["model", "plain eager ms", "gp eager ms", "gp ms", "gp x plain", "gp step"]),
    "losses": (losses_section, ["model", "loss", "eager mean", "graph mean", "|diff|/sd", "first10 rel", "verdict"]),
    "variants": (variants_section, ["case", "variant", "ms/step", "x fp32", "step"]),
}


def main() -> None:
    a = args()
    if a.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    b = Bench(a)
    tables = []
    for name in a.sections.split(","):
        fn, headers = SECTIONS[name]
        if b.left() < 20:
            b.out["skipped"].append(name)
            continue
        t0 = time.time()
        try:
            tables.append((name, headers, fn(b)))
        except Exception as exc:
            traceback.print_exc()
            tables.append((name, ["error"], [[harness_line(exc)]]))
        print(f"[{name}: {time.time() - t0:.0f} s]", flush=True)
    m = harness.machine()
    print(f"\nGPU benchmark on {m.get('gpu', 'CPU (smoke)')}, torch {m.get('torch')}, {m['date']}, "
          f"{time.time() - b.t0:.0f} s; skipped: {b.out['skipped'] or 'nothing'}")
    for name, headers, rows in tables:
        print(f"\n[{name}]\n" + harness.table(headers, rows))
    harness.save("gpu", b.out)


if __name__ == "__main__":
    main()
