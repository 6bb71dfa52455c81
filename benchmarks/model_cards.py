"""Model cards: train every registered gp model on Fashion-MNIST with a small, stated budget
on this CPU machine, measure what fits the model, and write ``docs/models/NAME.md`` (with
``NAME.png``, a sample grid, and ``NAME-losses.png``, the logged losses) plus the index
``docs/models/README.md``.

What is measured (``benchmarks/cards_report.py`` renders it and compares with the published
orderings of shared/notes/evaluation.md):
- autoencoders: test reconstruction error through encode/decode (squared error and Bernoulli
  cross-entropy per image), beside PCA with the same code size;
- models with ``log_prob``: test NLL in nats and bits/dim on Fashion-MNIST binarised at 0.5
  (fixed, deterministic), the data those models train on here (VAE: IWAE bound, k = 1, 10, 100);
- sae / sdae: test accuracy of the fine-tuned stack against the same network trained from
  scratch, with 100, 1,000 and all labels; cvae / aae (semi-supervised): the same label sweep;
- GANs: sample grids, loss curves, and the discriminator's loss on training vs test images.

Every run is ``gp.train.loop.run(config, LocalSession())`` on one torch thread
(``trainer.threads=1``; the machine's 2 cores are shared, and two threads were 3-5x slower
under that load). Budgets are steps, so numbers do not depend on the load; wall times do.

Usage:
    python benchmarks/model_cards.py [--budget-scale 1.0] [--only vae,pixelcnn] [--out docs/models]
    python benchmarks/model_cards.py --quick          # smoke run: a few steps, temp dir
    python benchmarks/model_cards.py --report-only    # re-render cards from OUT/results.json
This is a script, not a test.
"""
from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import math
import os
import pathlib
import shutil
import sys
import tempfile
import time
import traceback

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
THREADS = 1
LABELS = (100, 1000, None)  # None: every training label
IWAE_KS = (1, 10, 100)


@dataclasses.dataclass(frozen=True)
class Plan:
    """A training budget: ``epochs`` x ``steps`` (per epoch, before --budget-scale) of ``batch``."""

    batch: int
    epochs: int
    steps: int
    model: dict = dataclasses.field(default_factory=dict)
    data: str = "grey"  # grey: Fashion-MNIST as is; binary: thresholded at 0.5
    samples: int = 64


PLANS = {
    "ae": Plan(128, 4, 400),
    "linear-ae": Plan(128, 4, 400),
    "dae": Plan(128, 4, 400),
    "cae": Plan(128, 3, 400),
    "scae": Plan(128, 2, 400),
    "sae": Plan(128, 6, 200, {"pretrain_epochs": 1}),
    "sdae": Plan(128, 6, 200, {"pretrain_epochs": 1}),
    "vae": Plan(128, 4, 300, data="binary"),
    "cvae": Plan(128, 2, 300, samples=100),
    "aae": Plan(128, 1, 300),
    "gan": Plan(64, 2, 600, {"g_hidden": 512, "d_hidden": 256}),
    "dcgan": Plan(64, 2, 300, {"g_width": 16, "d_width": 16}),
    "lsgan": Plan(64, 2, 300, {"width": 16}),
    "pixelcnn": Plan(32, 1, 400, {"variant": "plain", "hidden": 16, "layers": 3, "output": "bernoulli"},
                     data="binary", samples=25),
    "pixelrnn": Plan(32, 1, 160, {"variant": "row", "hidden": 16, "layers": 1, "output": "bernoulli"},
                     data="binary", samples=25),
}
# Label sweeps: "stack" fine-tunes the pretrained stack and the same network from scratch on
# the labelled images only; "semi" trains the semi-supervised model with data.labelled=N.
SWEEPS = {
    "sae": Plan(100, 3, 80),
    "sdae": Plan(100, 3, 80),
    "cvae": Plan(128, 1, 100),
    "aae": Plan(128, 1, 120, {"variant": "semi-supervised"}),
}


class Context:
    """Options, registry, derived datasets and cached test data shared by all cards."""

    def __init__(self, args):
        from gp.plugins import load_registry

        self.args, self.registry = args, load_registry()
        self.scale, self.quick = args.budget_scale, args.quick
        self.out = pathlib.Path(args.out)
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="gp-cards-data-"))
        self.roots: dict = {}
        self.tests: dict = {}
        self.pca = None
        self.n_eval = 256 if self.quick else None  # test images for reconstruction / accuracy
        self.n_nll = 32 if self.quick else 1000  # test images for likelihoods
        self.ks = (1, 5) if self.quick else IWAE_KS

    def steps(self, steps: int) -> int:
        return 2 if self.quick else max(1, round(steps * self.scale))

    def limit(self) -> dict:
        return {"limit": 2048} if self.quick else {}


# ---------------------------------------------------------------- derived datasets (IDX)


def write_idx(path: pathlib.Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (the format gp's Fashion-MNIST loader reads)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_root(root: pathlib.Path, train, test, binary: bool) -> str:
    """A folder of IDX files with these (x, y) train and test splits; x in [0, 1]."""
    root.mkdir(parents=True, exist_ok=True)
    for split, (x, y) in {"train": train, "t10k": test}.items():
        pix = (x > 0.5).float() * 255 if binary else (x * 255).round()
        write_idx(root / f"{split}-images-idx3-ubyte", pix.squeeze(1).numpy().astype(np.uint8))
        write_idx(root / f"{split}-labels-idx1-ubyte", y.numpy().astype(np.uint8))
    return str(root)


def fashion(ctx, split: str, root: str | None = None):
    """A split of Fashion-MNIST (grey, or from ``root``), loaded once."""
    from gp.config import DataConfig
    from gp.data.spec import load

    if (split, root) not in ctx.tests:
        ctx.tests[split, root] = load(ctx.registry, DataConfig(root=root), split)
    return ctx.tests[split, root]


def data_root(ctx, kind: str) -> str | None:
    """None for grey Fashion-MNIST; a folder with the 0.5-thresholded copy for ``binary``."""
    if kind == "grey":
        return None
    if "binary" not in ctx.roots:
        tr, te = fashion(ctx, "train"), fashion(ctx, "test")
        ctx.roots["binary"] = write_root(ctx.tmp / "binary", (tr.x, tr.y), (te.x, te.y), binary=True)
    return ctx.roots["binary"]


def labelled_root(ctx, n: int, pool: int) -> str:
    """The ``n`` images that ``data.labelled=n`` keeps labelled (same seed), tiled to ``pool``."""
    if n not in ctx.roots:
        from gp.data.spec import hide_labels

        tr, te = fashion(ctx, "train").subset(2048 if ctx.quick else None), fashion(ctx, "test")
        keep = hide_labels(tr, n).y >= 0
        reps = -(-pool // n)
        x, y = tr.x[keep].repeat(reps, 1, 1, 1), tr.y[keep].repeat(reps)
        ctx.roots[n] = write_root(ctx.tmp / f"labelled-{n}", (x, y), (te.x, te.y), binary=False)
    return ctx.roots[n]


def test_set(ctx, kind: str):
    return fashion(ctx, "test", data_root(ctx, kind))


# ---------------------------------------------------------------- training


def job(ctx, plugin: str, plan: Plan, root: str | None = None, **data) -> dict:
    model = {**plan.model, **(ctx.registry.model(plugin).tiny if ctx.quick else {})}
    trainer = {"epochs": plan.epochs, "steps_per_epoch": ctx.steps(plan.steps), "batch_size": plan.batch,
               "threads": THREADS, "seed": 0, "samples": 4 if plan.samples < 64 else 16}
    data = {"name": "fashion-mnist", **({"root": root} if root else {}), **ctx.limit(), **data}
    return {"plugin": plugin, "model": model, "data": data, "trainer": trainer}


def train(config: dict, resume: str | None = None) -> dict:
    """Run the loop in-process; return summary, session, logged losses, seconds, load."""
    from gp.progress import Sink
    from gp.train.loop import run
    from gp.train.session import LocalSession

    session, sink = LocalSession(resume_from=resume), Sink()
    load0, t0 = os.getloadavg()[0], time.perf_counter()
    summary = run({"job": config, "sink": sink}, session)
    seconds = time.perf_counter() - t0
    records = [r for r in sink.records if "losses" in r]
    return {"summary": summary, "session": session, "records": records, "seconds": seconds,
            "load": [round(load0, 2), round(os.getloadavg()[0], 2)]}


def rebuild(ctx, session):
    from gp.train import checkpoint

    return checkpoint.build_model(checkpoint.load(session.checkpoints[-1]), ctx.registry)


def cleanup(session) -> None:
    for path in session.checkpoints:
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)


def steps_done(config: dict, epochs: int | None = None) -> int:
    t = config["trainer"]
    return (epochs or t["epochs"]) * t["steps_per_epoch"]


# ---------------------------------------------------------------- measurements


@torch.no_grad()
def reconstruction(model, x: torch.Tensor, batch: int = 1000) -> dict:
    """Squared error and Bernoulli cross-entropy (nats) per image of decode(encode(x))."""
    import torch.nn.functional as F

    se, bce = [], []
    for i in range(0, len(x), batch):
        xb = x[i:i + batch].flatten(1)
        p = model.decode(model.encode(x[i:i + batch])).flatten(1).clamp(1e-6, 1 - 1e-6)
        se.append((p - xb).pow(2).sum(1))
        bce.append(F.binary_cross_entropy(p, xb, reduction="none").sum(1))
    return {"mse_per_image": float(torch.cat(se).mean()), "bce_nats": float(torch.cat(bce).mean()),
            "bce_floor_nats": entropy_floor(x), "images": len(x)}


def entropy_floor(x: torch.Tensor) -> float:
    """Mean over images of sum_i H(x_i): the cross-entropy of a perfect reconstruction."""
    p = x.flatten(1).double().clamp(1e-12, 1 - 1e-12)
    h = -(p * p.log() + (1 - p) * (1 - p).log())
    return float(h.sum(1).mean())


def pca_baseline(ctx, k: int, x: torch.Tensor) -> dict:
    """Test squared error per image of PCA with ``k`` components fitted on the training images."""
    if ctx.pca is None:
        from sklearn.decomposition import PCA

        train = fashion(ctx, "train").subset(2048 if ctx.quick else None).x.flatten(1).numpy()
        ctx.pca = PCA(svd_solver="covariance_eigh").fit(train)
    comps, mean = ctx.pca.components_[:k], ctx.pca.mean_
    xt = x.flatten(1).numpy()
    rec = np.clip((xt - mean) @ comps.T @ comps + mean, 0, 1)
    return {"k": k, "mse_per_image": float(((rec - xt) ** 2).sum(1).mean())}


def code_size(model, x: torch.Tensor) -> int:
    with torch.no_grad():
        return int(model.encode(x[:2]).shape[1])


@torch.no_grad()
def nll_row(model, x: torch.Tensor, k: int | None, batch: int) -> dict:
    """Mean test NLL in nats with its standard error, and bits/dim, from per-image log p(x)."""
    kw = {"k": k} if k else {}
    torch.manual_seed(0)
    nll = -torch.cat([model.log_prob(x[i:i + batch], **kw).double() for i in range(0, len(x), batch)])  # (N,)
    mean = float(nll.mean())
    return {**({"k": k} if k else {}), "nll_nats": mean, "se_nats": float(nll.std() / len(nll) ** 0.5),
            "bits_per_dim": mean / (x[0].numel() * math.log(2))}


def likelihood(ctx, model, x: torch.Tensor) -> dict:
    """Test NLL on ``x``: exact, or the IWAE bound for each k in ctx.ks (same seed for every k)."""
    if getattr(model, "log_prob_exact", False):
        return {"exact": True, "images": len(x), "rows": [nll_row(model, x, None, 100)]}
    rows = [nll_row(model, x, k, max(10, 20000 // k)) for k in ctx.ks]
    return {"exact": False, "images": len(x), "rows": rows}


@torch.no_grad()
def class_agreement(model, classes: int, per_class: int) -> dict:
    """Share of class-conditional samples that the model's own classifier q(y|x) puts in the requested class."""
    torch.manual_seed(0)
    y = torch.arange(classes).repeat_interleave(per_class)
    return {"agreement": float((model.classify(model.sample(len(y), y)) == y).float().mean()), "samples": len(y)}


@torch.no_grad()
def accuracy(model, data, batch: int = 1000) -> float:
    hits = sum(int((model.classify(data.x[i:i + batch]) == data.y[i:i + batch]).sum())
               for i in range(0, len(data.x), batch))
    return hits / len(data.x)


@torch.no_grad()
def adversarial_losses(ctx, model) -> dict:
    """Discriminator and generator losses on 2,000 training and 2,000 test images (same noise)."""
    n = 256 if ctx.quick else 2000
    out: dict = {"images": n}
    for split in ("train", "test"):
        x = fashion(ctx, split).x[:n]
        torch.manual_seed(0)
        batch = {"x": x, "y": torch.zeros(n, dtype=torch.long)}
        out[split] = {u: float(model(batch, u)["loss"]) for u in ("discriminator", "generator")}
    return out


def can_classify(model) -> bool:
    """sae/sdae with classes, cvae, and aae only when semi-supervised."""
    has = callable(getattr(model, "classify", None)) and getattr(model, "classifier", 1) is not None
    return has and getattr(model, "semi", True)


def measure(ctx, plugin: str, model, plan: Plan) -> dict:
    """Everything that fits this model's capabilities."""
    test = test_set(ctx, plan.data).subset(ctx.n_eval)
    out: dict = {}
    if callable(getattr(model, "encode", None)) and callable(getattr(model, "decode", None)):
        out["reconstruction"] = reconstruction(model, test.x)
        if plan.data == "grey":
            out["pca"] = pca_baseline(ctx, code_size(model, test.x), test.x)
    if callable(getattr(model, "log_prob", None)):
        out["likelihood"] = likelihood(ctx, model, test_set(ctx, "binary").x[:ctx.n_nll])
    if can_classify(model):
        out["accuracy"] = accuracy(model, test)
        if getattr(model, "is_conditional", False):
            out["conditional"] = class_agreement(model, test.spec.num_classes, 10 if ctx.quick else 100)
    if model.family == "gan":
        out["adversarial"] = adversarial_losses(ctx, model)
    return out


# ---------------------------------------------------------------- pictures


@torch.no_grad()
def save_samples(model, plan: Plan, path: pathlib.Path, quick: bool) -> str:
    """A grid of samples (class rows for conditional models); returns how it was drawn."""
    from PIL import Image

    from gp.render import grid

    torch.manual_seed(0)
    n = 4 if quick and plan.samples < 64 else plan.samples
    if getattr(model, "is_conditional", False) and plan.samples == 100:
        y = torch.arange(10).repeat_interleave(10)  # row i: class i
        x, how = model.sample(100, y), "100 samples, row i conditioned on class i (0 = T-shirt/top ... 9 = ankle boot)"
    else:
        x, how = model.sample(n), f"{n} samples, seed 0"
    img = Image.fromarray(grid(x))
    img.resize((2 * img.width, 2 * img.height), Image.NEAREST).save(path)  # twice the size, for the docs
    return how


def save_losses(records: list[dict], path: pathlib.Path, title: str) -> None:
    """The losses the loop reported (about every 0.5 s), one line per loss, against the step."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    steps = [r["step"] for r in records]
    for key in dict.fromkeys(k for r in records for k in r["losses"]):  # every key, in order (phases differ)
        ax.plot(steps, [r["losses"].get(key, np.nan) for r in records], ".-", label=key, lw=1, ms=2)
    positive = all(v > 0 for r in records for v in r["losses"].values())
    ax.set(xlabel="step", ylabel="loss (one batch)", title=title, yscale="log" if positive and records else "linear")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)


# ---------------------------------------------------------------- label sweeps


def sweep_row(ctx, config: dict, resume: str | None, label: str, steps: int) -> dict:
    try:
        r = train(config, resume)
        acc = accuracy(rebuild(ctx, r["session"]), test_set(ctx, "grey").subset(ctx.n_eval))
        cleanup(r["session"])
        return {"mode": label, "steps": steps, "batch": config["trainer"]["batch_size"], "accuracy": acc,
                "seconds": round(r["seconds"], 1), "status": r["summary"]["status"], "model": config["model"]}
    except Exception as exc:  # a crash is a finding: note it in the card
        return {"mode": label, "steps": steps, "status": "crashed", "error": short_error(exc)}


def stack_sweep(ctx, plugin: str, plan: Plan, main: dict, pre: int) -> list[dict]:
    """Fine-tuned stack vs the same network from scratch, with 100, 1,000 and all labels."""
    sw, rows = SWEEPS[plugin], []
    ft = plan.epochs - pre
    for n in LABELS:
        if n is None:
            scratch = job(ctx, plugin, dataclasses.replace(plan, epochs=ft, model={**plan.model, "pretrain_epochs": 0}))
            rows.append({"labels": "all", **main["finetuned"]})
            rows.append({"labels": "all", **sweep_row(ctx, scratch, None, "scratch", steps_done(scratch))})
            continue
        root = labelled_root(ctx, n, ctx.steps(sw.steps) * sw.batch)
        tuned = job(ctx, plugin, dataclasses.replace(sw, epochs=pre + sw.epochs, model=plan.model), root)
        scratch = job(ctx, plugin, dataclasses.replace(sw, model={**plan.model, "pretrain_epochs": 0}), root)
        resume = main["session"].checkpoints[pre - 1]
        rows.append({"labels": n, **sweep_row(ctx, tuned, resume, "pretrained", steps_done(tuned, sw.epochs))})
        rows.append({"labels": n, **sweep_row(ctx, scratch, None, "scratch", steps_done(scratch))})
    return rows


def semi_sweep(ctx, plugin: str) -> list[dict]:
    """The semi-supervised model trained with data.labelled=N (N = 100, 1,000, all)."""
    sw, rows = SWEEPS[plugin], []
    for n in LABELS:
        config = job(ctx, plugin, sw, **({"labelled": n} if n else {}))
        rows.append({"labels": n or "all", **sweep_row(ctx, config, None, "semi-supervised", steps_done(config))})
    return rows


# ---------------------------------------------------------------- one card


def short_error(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''} " \
           f"(at {pathlib.Path(last.filename).name}:{last.lineno})"


def describe(ctx, plugin: str) -> dict:
    """Paper line, family and capabilities of a registered model class."""
    from gp.model import capabilities

    cls = ctx.registry.model(plugin)
    doc = inspect.getmodule(cls).__doc__ or ""
    return {"plugin": plugin, "paper": " ".join(doc.split("\n\n")[0].split()), "family": cls.family,
            "capabilities": capabilities(cls), "log_prob_exact": bool(getattr(cls, "log_prob_exact", False))}


def pretrain_epochs(model, epochs: int) -> int:
    return sum(p.startswith("pretrain") for p in model.phases(epochs))


def card(ctx, plugin: str) -> dict:
    """Train the main run, measure, draw, run the label sweep; a crash is recorded, not raised."""
    plan = PLANS.get(plugin, Plan(128, 2, 200))
    config = job(ctx, plugin, plan, data_root(ctx, plan.data))
    entry = {**describe(ctx, plugin), "job": config, "data": plan.data, "scale": ctx.scale, "quick": ctx.quick,
             "date": time.strftime("%Y-%m-%d %H:%M"), "threads": THREADS, "status": "crashed"}
    try:
        entry.update(main_run(ctx, plugin, plan, config))
    except Exception as exc:
        entry["error"] = short_error(exc)
        traceback.print_exc()
    return entry


def main_run(ctx, plugin: str, plan: Plan, config: dict) -> dict:
    r = train(config)
    model = rebuild(ctx, r["session"])
    t0 = time.perf_counter()
    out = {"status": r["summary"]["status"], "train_s": round(r["seconds"], 1), "load": r["load"],
           "model_config": model.config.model_dump(), "steps": r["summary"]["step"],
           "images": r["summary"]["step"] * plan.batch, "last_losses": r["records"][-1]["losses"] if r["records"] else {}}
    out["metrics"] = measure(ctx, plugin, model, plan)
    out["sample_note"] = save_samples(model, plan, ctx.out / f"{plugin}.png", ctx.quick)
    save_losses(r["records"], ctx.out / f"{plugin}-losses.png", f"{plugin}: logged training losses")
    out["eval_s"] = round(time.perf_counter() - t0, 1)
    out["sweep"] = sweep(ctx, plugin, plan, model, r, out)
    cleanup(r["session"])
    return out


def sweep(ctx, plugin, plan, model, r, out) -> list[dict]:
    if plugin not in SWEEPS:
        return []
    t0 = time.perf_counter()
    if plugin in ("sae", "sdae"):
        pre = pretrain_epochs(model, plan.epochs)
        out["pretrain_steps"] = pre * ctx.steps(plan.steps)
        finetuned = {"mode": "pretrained", "steps": (plan.epochs - pre) * ctx.steps(plan.steps), "batch": plan.batch,
                     "accuracy": out["metrics"].get("accuracy"), "seconds": None, "status": out["status"]}
        rows = stack_sweep(ctx, plugin, plan, {"session": r["session"], "finetuned": finetuned}, pre)
    else:
        rows = semi_sweep(ctx, plugin)
    out["sweep_s"] = round(time.perf_counter() - t0, 1)
    return rows


# ---------------------------------------------------------------- driver


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget-scale", type=float, default=1.0, help="multiply every run's steps per epoch")
    p.add_argument("--only", default="", help="comma-separated plugins (default: every registered one)")
    p.add_argument("--quick", action="store_true", help="smoke run: 2 steps per epoch, tiny models, temp dir")
    p.add_argument("--out", default=None, help="output folder (default docs/models; --quick: a temp dir)")
    p.add_argument("--report-only", action="store_true", help="only re-render the cards from OUT/results.json")
    args = p.parse_args(argv)
    if args.out is None:
        args.out = tempfile.mkdtemp(prefix="gp-cards-quick-") if args.quick else str(ROOT / "docs" / "models")
    return args


def load_results(out: pathlib.Path) -> dict:
    path = out / "results.json"
    return json.loads(path.read_text()) if path.exists() else {"models": {}}


def run_cards(ctx, plugins: list[str], results: dict) -> None:
    for plugin in plugins:
        t0 = time.perf_counter()
        print(f"[{time.strftime('%H:%M:%S')}] {plugin} ...", flush=True)
        results["models"][plugin] = card(ctx, plugin)
        e = results["models"][plugin]
        print(f"[{time.strftime('%H:%M:%S')}] {plugin}: {e['status']} in {time.perf_counter() - t0:.0f} s "
              f"(train {e.get('train_s')} s)", flush=True)
        save_json(ctx.out, results)


def save_json(out: pathlib.Path, results: dict) -> None:
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))


def main(argv=None) -> None:
    import cards_report

    args = parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = load_results(out)
    if not args.report_only:
        train_all(args, results)
        save_json(out, results)
    cards_report.write_all(results, out)
    print(f"cards in {out}")


def train_all(args, results: dict) -> None:
    """Cards for --only (default: every registered plugin, planned ones first); run metadata."""
    import harness

    torch.set_num_threads(THREADS)
    ctx = Context(args)
    registered = sorted(ctx.registry.models)
    plugins = [p for p in args.only.split(",") if p] or \
        [p for p in PLANS if p in registered] + [p for p in registered if p not in PLANS]
    unknown = [p for p in plugins if p not in registered]
    if unknown:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
        raise SystemExit(f"not registered: {', '.join(unknown)} (registered: {', '.join(registered)})")
    t0 = time.perf_counter()
    try:
        run_cards(ctx, plugins, results)
    finally:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    results["last_run"] = {"machine": harness.machine(), "command": " ".join(["python", *sys.argv]),
                           "plugins": plugins, "seconds": round(time.perf_counter() - t0, 1),
                           "scale": args.budget_scale, "quick": args.quick, "commit": commit()}
    results["registered"] = registered


def commit() -> str:
    import subprocess

    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return ""


if __name__ == "__main__":
    main()
