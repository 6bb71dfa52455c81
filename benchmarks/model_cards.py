"""Model cards: train each model's recipe through gp's driver and score it with ``gp eval`` only.

Each entry below is a run of one recipe (the ``paper`` one of every model, plus the runs the
published orderings need). It trains in stages, ``gp submit`` then ``resume=RUN_ID`` to 10%,
30% and 100% of its epochs, and after each stage ``gp eval`` (``gp.eval.runner.evaluate``)
scores the same run, so the card shows whether the model converged. The results go to
``docs/models/results.json``; ``benchmarks/cards.py`` renders the cards from it. This file
keeps no metric code: a number ``gp eval`` lacks belongs in ``gp eval``.

    python benchmarks/model_cards.py [--only vae,gan] [--recipe paper] [--budget F] [--n N]
    python benchmarks/model_cards.py --quick --only vae   # smoke run on digits, temp GP_HOME
    python benchmarks/model_cards.py --rescore accuracy --only aae-semi-100   # gp eval again, no training
    python benchmarks/model_cards.py --budget 0.1 --seeds 3 --only sae,sdae   # each entry over seeds 0, 1, 2

``--budget F`` trains F of the recipe's steps: the steps per epoch scaled by F, then, where
the recipe has more than 10 epochs and no schedule counted in epochs (the stacks' pretraining
epochs keep theirs), the same steps in 10 longer epochs. F < 1 is marked "reduced budget"
on the card. The Fashion-MNIST test set is the held-out set of every number; nothing is tuned.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import pathlib
import platform
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "models"
STAGES = (0.1, 0.3, 1.0)
# Models that train in phases: a shorter trainer.epochs schedules their phases anew (fewer
# pretraining epochs per layer), so a stage would not be a point of the full run; scored at the end only.
PHASED = ("sae", "sdae")
MIN_EPOCHS = 10  # a reduced budget keeps at least this many epochs, so the stages land on epochs
MODELS = ("ae", "linear-ae", "dae", "cae", "scae", "sae", "sdae", "vae", "cvae", "aae",
          "gan", "dcgan", "lsgan", "pixelcnn", "pixelrnn")

# Runs beyond each model's --recipe one: name -> (plugin, recipe, overrides, seeds, extra metrics).
EXTRA = {
    "aae-semi-100": ("aae", "semi-supervised-100", [], (0, 1, 2), ""),
    "cvae-semi-100": ("cvae", "semi-supervised-100", [], (0, 1, 2), ""),
    "pixelcnn-8bit": ("pixelcnn", "paper", ["model.output=softmax"], (0,), ""),
    "gan-grid": ("gan", "pacgan-grid", [], (0,), ""),
    "lsgan-grid": ("lsgan", "gaussian-ring", ["data.kind=grid"], (0,), ""),
    "aae-grid": ("aae", "paper", ["data=toy2d", "data.kind=grid"], (0,), ""),
}
OPT_IN = {"gan": "parzen", "aae": "parzen"}  # opt-in metrics the orderings need, at the last stage
SLOW_SAMPLERS = {"pixelcnn", "pixelrnn"}  # sample metrics only at the last stage, on --slow-n samples


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="comma-separated entries (models or extra runs)")
    p.add_argument("--recipe", default="paper")
    p.add_argument("--budget", type=float, default=1.0, help="scale of the steps per epoch")
    p.add_argument("--n", type=int, default=10_000, help="gp eval n (samples and test images)")
    p.add_argument("--slow-n", type=int, default=1000, help="gp eval n of sample metrics of slow samplers")
    p.add_argument("--set", action="append", default=[], help="a trainer.* override that leaves the model "
                   "as it is (e.g. trainer.samples=16: the per-epoch grid)")
    p.add_argument("--seeds", type=int, default=0, help="seeds 0..N-1 for every entry run (default: each "
                   "entry's own, one for a model's recipe)")
    p.add_argument("--extra", action="store_true", help="also the EXTRA runs (with --only: those named)")
    p.add_argument("--out", type=pathlib.Path, default=OUT)
    p.add_argument("--rescore", default="", help="no training: gp eval these metrics again on the last stage of "
                   "every run of the --only entries (after gp eval gained a number), merged into results.json")
    p.add_argument("--quick", action="store_true", help="a few steps on digits into a temp GP_HOME and --out")
    return p.parse_args(argv)


def entries(args) -> dict:
    """name -> (plugin, recipe, overrides, seeds, opt-in metrics) for this invocation."""
    only = [s for s in args.only.split(",") if s]
    out = {m: (m, args.recipe, [], (0,), OPT_IN.get(m, "")) for m in MODELS}
    out |= EXTRA if (args.extra or only) else {}
    chosen = {k: out[k] for k in only if k in out} if only else out
    if args.seeds:
        chosen = {k: (*v[:3], tuple(range(args.seeds)), v[4]) for k, v in chosen.items()}
    return chosen


def hardware() -> dict:
    import torch

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cpus": os.cpu_count(), "gpu": gpu, "torch": torch.__version__,
            "load_avg": [round(x, 2) for x in os.getloadavg()]}


def submit(overrides: list[str]) -> tuple[str, dict]:
    """gp's driver in this process (one Ray for every run); its size line parsed."""
    from gp.orchestrate import submit as gp_submit

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        run_id = gp_submit(overrides)
    text = buf.getvalue()
    sys.stdout.write(text)
    return run_id, size_of(text)


def size_of(text: str) -> dict:
    """gp submit's size line, e.g. "902 steps per epoch x 1 epoch = 902 steps (batch 64,
    60000 examples)", as numbers; {} where there is none."""
    m = re.search(r"(\d+) steps per epoch x (\d+) epochs? = (\d+) steps \(batch (\d+), (\d+) examples\)", text)
    return dict(zip(("per_epoch", "epochs", "steps", "batch", "examples"), map(int, m.groups()))) if m else {}


def evaluate(run_id: str, metrics: str | None, n: int) -> dict:
    from gp.eval.runner import Options, evaluate as gp_eval

    return gp_eval(run_id, Options(metrics=metrics, n=n, local=True, fresh=True)).metrics


def stage_metrics(plugin: str, last: bool, extra: str, args) -> list[tuple[str | None, int]]:
    """(metrics, n) of the gp eval calls after a stage: the defaults, parzen last where asked;
    a slow sampler gets likelihood each stage and its sample metrics last, on fewer samples."""
    if plugin in SLOW_SAMPLERS:
        return [("nll", args.n)] + ([("fid,cs,pr", min(args.n, args.slow_n))] if last else [])
    if last and extra:
        return [(None, args.n), (extra, args.n)]
    return [(None, args.n)]


def steps_per_epoch(plugin: str, recipe: str, overrides: list[str], budget: float) -> tuple[int, int]:
    """(full steps per epoch of the recipe's data and batch, the budget's steps per epoch)."""
    from gp.config import DataConfig
    from gp.plugins import load_registry
    from gp.recipes import apply

    registry = load_registry()
    raw = apply({"recipe": recipe, "trainer": {}, "data": {}}, registry.model(plugin))
    cfg = {**raw.get("data", {})}
    for o in overrides:
        k, _, v = o.partition("=")
        if k == "data":
            cfg = {"name": v}
        elif k.startswith("data."):
            cfg[k[5:]] = int(v) if v.isdigit() else v
    name = cfg.pop("name", "fashion-mnist")
    data = registry.dataset(name)(DataConfig(name=name, **cfg), "train")
    full = math.ceil(len(data) / raw.get("trainer", {}).get("batch_size", 128))
    return full, max(1, round(full * budget))


def train_entry(name: str, spec: tuple, args, quick: list[str]) -> dict:
    plugin, recipe, overrides, seeds, extra = spec
    from gp.plugins import load_registry

    quick = [] if any(o.startswith("data") for o in overrides) else quick
    rec = load_registry().model(plugin).recipes[recipe]
    epochs = rec.values.get("trainer.epochs", (5, ""))[0]
    full, per = steps_per_epoch(plugin, recipe, overrides + quick, args.budget)
    if args.budget < 1 and epochs > MIN_EPOCHS and not any(k.endswith("epochs") for k in rec.values if k != "trainer.epochs"):
        # fewer, longer epochs (each epoch's checkpoint and grid cost the same on a small budget),
        # each at most one pass: trainer.steps_per_epoch is a cap
        total = args.budget * full * epochs
        epochs = max(MIN_EPOCHS, math.ceil(total / full))
        per = max(1, round(total / epochs))
    if quick:
        epochs, per = 3, 2
    out = {"plugin": plugin, "recipe": recipe, "description": rec.description, "epochs": epochs,
           "values": {k: [v, src] for k, (v, src) in rec.values.items()}, "overrides": overrides,
           "budget": args.budget if not quick else "quick", "steps_per_epoch_full": full, "runs": {},
           "label_draws": True}  # each seed also draws the labels (data.label_seed)
    for seed in seeds:
        staged = seed == seeds[0] and name in MODELS and name not in PHASED  # extra runs, seeds: the end only
        stops = sorted({max(1, round(f * epochs)) for f in (STAGES if staged else (1.0,))})
        run_id, stages = None, []
        for e in stops:
            common = [f"trainer.epochs={e}", f"trainer.steps_per_epoch={per}"] + args.set
            job = ([f"resume={run_id}"] if run_id else
                   [f"plugin={plugin}", f"recipe={recipe}", f"trainer.seed={seed}", f"data.label_seed={seed}",
                    *overrides, *quick])
            t0 = time.time()
            try:
                run_id, size = submit(job + common)
            except Exception as exc:  # gp's driver failing to start a run in-process: once more, then the error
                print(f"[cards] {name} seed {seed}: {exc}; retrying once", flush=True)
                run_id, size = submit(job + common)
            wall, t1, values = time.time() - t0, time.time(), {}
            calls = stage_metrics(plugin, e == epochs, extra, args)
            for metrics, n in calls:
                try:
                    values |= evaluate(run_id, metrics, n)
                except Exception as exc:  # recorded on the card, not fatal to the other stages
                    values[f"error:{metrics}"] = f"{type(exc).__name__}: {exc}"[:300]
            steps = e * size.get("per_epoch", per)
            batch, examples = size.get("batch", 0), size.get("examples", 1)
            stages.append({"fraction": e / epochs, "epochs": e, "steps": steps, "batch": batch, "examples": examples,
                           "passes": steps * batch / examples, "train_s": round(wall, 1),
                           "eval_s": round(time.time() - t1, 1), "metrics": values, "evals": calls})
            print(f"[cards] {name} seed {seed} epoch {e}/{epochs}: {wall:.0f}s train, "
                  f"{stages[-1]['eval_s']:.0f}s eval", flush=True)
        out["runs"][str(seed)] = {"run_id": run_id, "stages": stages}
    return out


def rescore(entry: dict, args) -> None:
    """gp eval ``args.rescore`` on the last stage of each of ``entry``'s runs; the values join that stage's."""
    for run in entry.get("runs", {}).values():
        last = run["stages"][-1]
        last["metrics"] |= evaluate(run["run_id"], args.rescore, args.n)
        last["evals"] = last.get("evals", []) + [[args.rescore, args.n]]
        print(f"[cards] rescored {run['run_id'][:8]} with {args.rescore}", flush=True)


def picture_n(name: str) -> int:
    """Samples in an entry's picture: a scatter of 2,500 points for a grid run, else 64 images."""
    return 2500 if name.endswith("-grid") else 64


def sample_grid(run_id: str, path: pathlib.Path, n: int = 64) -> str | None:
    gp = pathlib.Path(sys.executable).with_name("gp")
    got = subprocess.run([str(gp), "sample", run_id, f"n={n}", "--out", str(path)], capture_output=True, text=True)
    return path.name if got.returncode == 0 else None


def commit() -> str:
    got = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return got.stdout.strip()


def main(argv=None) -> int:
    args = parse_args(argv)
    quick = ["data=digits"] if args.quick else []  # (entries that name their data keep it)
    if args.quick:
        os.environ["GP_HOME"] = tempfile.mkdtemp(prefix="gp-cards-")
        args.out = pathlib.Path(tempfile.mkdtemp(prefix="gp-cards-out-")) if args.out == OUT else args.out
        args.n, args.slow_n = min(args.n, 200), min(args.slow_n, 50)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    if "entries" not in results:  # an older format: start again
        results = {"entries": {}}
    t0 = time.time()
    for name in (entries(args) if args.rescore else ()):
        rescore(results["entries"][name], args)
        path.write_text(json.dumps(results, indent=1, sort_keys=True, default=str) + "\n")
    for name, spec in ({} if args.rescore else entries(args)).items():
        print(f"[cards] {name}: {spec[0]} recipe {spec[1]} {' '.join(spec[2])} budget {args.budget}", flush=True)
        started = time.time()
        try:
            entry = train_entry(name, spec, args, quick)
        except Exception as exc:
            print(f"[cards] {name} failed: {type(exc).__name__}: {exc}", flush=True)
            entry = {"plugin": spec[0], "recipe": spec[1], "error": f"{type(exc).__name__}: {exc}"[:500]}
        entry["wall_s"] = round(time.time() - started, 1)
        entry["hardware"] = hardware()
        entry["date"], entry["commit"] = time.strftime("%Y-%m-%d %H:%M"), commit()
        first = next(iter(entry.get("runs", {}).values()), None)
        if first and (name in MODELS or name.endswith("-grid")):  # a grid of images, or a scatter of 2-D points
            entry["grid"] = sample_grid(first["run_id"], args.out / f"{name}.png", picture_n(name))
        results["entries"][name] = entry
        path.write_text(json.dumps(results, indent=1, sort_keys=True, default=str) + "\n")
    print(f"[cards] done in {time.time() - t0:.0f}s; results in {path}", flush=True)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import cards

    cards.render(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
