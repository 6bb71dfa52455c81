"""Render docs/models/NAME.md (from docs/models/card.md.tmpl) and docs/models/README.md from
the ``results.json`` that ``benchmarks/model_cards.py`` writes.

Nothing here computes a metric: every number is one ``gp eval`` logged. The published
orderings and the floors are data (:data:`ORDERINGS`, :data:`FLOORS`); :func:`check` decides
from the numbers whether each holds and says so with them.

    python benchmarks/cards.py [--out docs/models]      # re-render from OUT/results.json
"""
from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import string
import sys

OUT = pathlib.Path(__file__).resolve().parent.parent / "docs" / "models"
sys.path.insert(0, str(OUT.parent.parent / "benchmarks"))

# metric keys (the first one a run has), better direction, tiers of runs in the published
# order (each run of a tier should beat each run of the next), the source. "run:metric"
# takes that metric from that run.
ORDERINGS = [
    (("fid",), "lower", [["gan", "dcgan", "lsgan"], ["vae"]], "FD: every GAN variant below the VAE (Lucic et al. 2018)"),
    (("nll_binary_nats", "nll_nats"), "lower", [["pixelrnn"], ["pixelcnn"], ["vae"]],
     "test NLL on Fashion-MNIST binarised at 0.5: PixelRNN < PixelCNN < the VAE's importance-weighted bound "
     "(van den Oord et al. 2016; Burda et al. 2016; the VAE, trained on grey levels, scored on the binarised "
     "test images: `nll_binary_nats`)"),
    (("accuracy",), "higher", [["aae-semi-100"], ["cvae-semi-100"],
                               ["aae-semi-100:accuracy_scratch", "cvae-semi-100:accuracy_scratch"]],
     "test accuracy with 100 labels: AAE > M2 > the same classifier network trained from scratch on the 100 "
     "labels alone (Makhzani et al. 2015; Kingma et al. 2014; `accuracy_scratch`, each model's own q(y|x) network)"),
    (("accuracy",), "higher", [["sdae"], ["sae"]], "fine-tuned accuracy: stacked denoising AE above stacked AE (Vincent et al. 2010)"),
    (("parzen_ll",), "higher", [["aae"], ["gan"]], "Parzen log-likelihood: AAE above GAN (Makhzani et al. 2015)"),
    (("parzen_kmeans_ll",), "higher", [["gan:parzen_kmeans_ll"], ["gan:parzen_real_ll"]],
     "Parzen log-likelihood: k-means centroids above real data (Theis et al. 2016)"),
]
# (metric, comparison, threshold: a number or another metric of the same run, what it means)
FLOORS = [
    (("class_coverage",), ">=", 0.9, "every sampler covers at least 90% of the classes"),
    (("recall",), ">", 0.0, "every sampler has non-zero recall"),
    (("bits_per_dim_binary", "bits_per_dim"), "<", "bits_per_dim_independent",
     "a likelihood model beats independent per-pixel categoricals on the same discretisation"),
]
PACGAN_GAN = ("17.3 ± 0.8", "0.948 ± 0.007", "0.70 ± 0.07")  # Lin et al. 2018, Table 1, 2D-grid, GAN (standard errors)
# (key, their mean, their standard error over 10 runs): "near" = within 2 sd of their runs, sd = se * sqrt(10)
PACGAN_NEAR = (("modes_hit", 17.3, 0.8), ("hq_fraction", 0.948, 0.007))
HEADLINES = ("modes_captured", "accuracy", "nll_nats", "fid", "recon_mse")  # the first a run has
SHOWN = ("fid", "class_coverage", "recall", "accuracy", "nll_nats", "bits_per_dim", "recon_mse", "modes_captured")
OPS = {">=": float.__ge__, ">": float.__gt__, "<": float.__lt__, "<=": float.__le__}



def spreads_note(results: dict) -> str:
    """What the spreads over seeds vary: label draws too where the runs set ``data.label_seed``."""
    semi = [e for name, e in results["entries"].items() if "semi" in name and "runs" in e]
    if semi and all(e.get("label_draws") for e in semi):
        return ("Spreads over seeds vary `trainer.seed` and `data.label_seed` together: each seed is a new "
                "draw of the 100 labelled images as well as a new initialisation.")
    return ("Spreads over seeds vary `trainer.seed` (initialisation, batches, noise) with the same 100 labelled "
            "images: these runs predate `data.label_seed`, so they are not spreads over label draws; "
            "`benchmarks/model_cards.py` now sets `data.label_seed` to each seed.")

def near_pacgan(results: dict) -> str:
    """Whether gan-grid lands near PacGAN's GAN (Table 1): within 2 sd of their 10 runs on each number."""
    m = next(iter(final(results["entries"].get("gan-grid", {}))), {})
    if not all(isinstance(m.get(k), (int, float)) for k, _, _ in PACGAN_NEAR):
        return "- gan-grid near PacGAN's GAN (Lin et al. 2018, Table 1): not measured"
    parts, ok = [], True
    for key, mean, se in PACGAN_NEAR:
        sd = se * 10 ** 0.5
        held = abs(m[key] - mean) <= 2 * sd
        ok &= held
        parts.append(f"{key} {m[key]:.4g} against {mean:g}, {'inside' if held else 'outside'} "
                     f"{mean - 2 * sd:.4g} to {mean + 2 * sd:.4g}")
    verdict = "**reproduced**" if ok else "**disagrees**"
    return f"- gan-grid near PacGAN's GAN (Lin et al. 2018, Table 1), within 2 sd of their 10 runs: {verdict} ({'; '.join(parts)})"


def dataset_of(entry: dict) -> str:
    """The dataset an entry trained on: its overrides' ``data=``, else its recipe's ``data.name``."""
    given = [o.split("=", 1)[1] for o in entry.get("overrides", []) if o.startswith("data=")]
    return given[-1] if given else entry.get("values", {}).get("data.name", ["fashion-mnist"])[0]


def linked(name: str, target: str | None) -> str:
    return f"[{name}]({target})" if target else name


def fmt(v) -> str:
    return "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))


def final(entry: dict) -> list[dict]:
    """The last stage's metrics of each seed's run."""
    return [r["stages"][-1]["metrics"] for r in entry.get("runs", {}).values() if r.get("stages")]


def value(results: dict, ref: str, keys: tuple) -> tuple[float, float, int] | None:
    """(mean, sd, seeds) of a run's metric over its seeds; ``ref`` is "run" or "run:metric"."""
    name, _, metric = ref.partition(":")
    got = []
    for m in final(results["entries"].get(name, {})):
        key = metric or next((k for k in keys if isinstance(m.get(k), (int, float))), None)
        if key and isinstance(m.get(key), (int, float)):
            got.append(float(m[key]))
    if not got:
        return None
    return statistics.mean(got), (statistics.stdev(got) if len(got) > 1 else 0.0), len(got)


def show(ref: str, v) -> str:
    mean, sd, n = v
    return f"{ref} {mean:.4g}" + (f" ± {sd:.2g} (sd over {n} seeds)" if n > 1 else "")


def check(results: dict, ordering) -> tuple[str, str]:
    """("reproduced" | "within the seeds' spread" | "disagrees" | "not measured", the sentence
    with the numbers). An ordering that holds on the means, but by less than a side's sd over
    seeds somewhere, is within the seeds' spread: these runs cannot tell its tiers apart."""
    keys, better, tiers, source = ordering
    values = {ref: value(results, ref, keys) for tier in tiers for ref in tier}
    missing = [r for r, v in values.items() if v is None]
    if missing:
        return "not measured", f"{source}: not measured (no value for {', '.join(missing)})"
    ok, close = True, False
    for up, down in zip(tiers, tiers[1:]):
        a, b = [values[r][0] for r in up], [values[r][0] for r in down]
        ok &= (max(a) < min(b)) if better == "lower" else (min(a) > max(b))
        gap = (min(b) - max(a)) if better == "lower" else (min(a) - max(b))
        close |= gap < max(values[r][1] for r in (*up, *down))
    numbers = "; ".join(" ".join(show(r, values[r]) for r in tier) for tier in tiers)
    verdict = ("within the seeds' spread" if close else "reproduced") if ok else "disagrees"
    trends = [t for t in (trend(results, r, keys) for tier in tiers for r in tier) if t]
    during = f" During training (fraction of the budget: value): {'; '.join(trends)}." if trends and not ok else ""
    return verdict, f"{source}: **{verdict}** ({'/'.join(keys)}, {better} is better: {numbers}).{during}"


def trend(results: dict, ref: str, keys: tuple) -> str | None:
    """A run's metric at each stage of its first seed ("gan 10%: 1500, 30%: 1300, 100%: 1209"),
    or None when it was scored at the end only."""
    name, _, metric = ref.partition(":")
    runs = list(results["entries"].get(name, {}).get("runs", {}).values())
    stages = runs[0].get("stages", []) if runs else []
    last = stages[-1]["metrics"] if stages else {}
    key = metric or next((k for k in keys if isinstance(last.get(k), (int, float))), None)  # the last stage's key
    points = [f"{st['fraction']:.0%}: {st['metrics'][key]:.4g}" for st in stages
              if isinstance(st["metrics"].get(key), (int, float))]
    return f"{ref} {', '.join(points)}" if len(points) > 1 else None


def floors(results: dict) -> list[str]:
    lines = []
    for keys, op, ref, meaning in FLOORS:
        rows = []
        for name, entry in results["entries"].items():
            for m in final(entry):
                metric = next((k for k in keys if isinstance(m.get(k), (int, float))), keys[0])
                limit = m.get(ref) if isinstance(ref, str) else ref
                if isinstance(m.get(metric), (int, float)) and isinstance(limit, (int, float)):
                    held = OPS[op](float(m[metric]), float(limit))
                    rows.append((held, f"{name} {fmt(float(m[metric]))}" + ("" if held else f" (limit {fmt(float(limit))})")))
        bad = [r for held, r in rows if not held]
        if not rows:
            lines.append(f"- {meaning} ({'/'.join(keys)} {op} {ref}): not measured")
            continue
        verdict = "holds for all" if not bad else f"**fails** for {len(bad)} of {len(rows)}: " + ", ".join(bad)
        lines.append(f"- {meaning} ({'/'.join(keys)} {op} {ref}): {verdict}"
                     + ("; holds for " + ", ".join(r for held, r in rows if held) if bad and len(bad) < len(rows) else
                        ": " + ", ".join(r for held, r in rows if held) if not bad else ""))
    return lines


def headline(metrics: dict) -> str | None:
    return next((k for k in HEADLINES if isinstance(metrics.get(k), (int, float))), None)


def budget_line(entry: dict) -> str:
    b, hw = entry.get("budget"), entry.get("hardware", {})
    where = f"GPU ({hw['gpu']})" if hw.get("gpu") else "CPU"
    if b == "quick":
        return f"quick smoke run (a few steps), {where}"
    if isinstance(b, (int, float)) and b < 1:
        paper = entry.get("values", {}).get("trainer.epochs", [None])[0]
        shape = f", in {entry['epochs']} epochs instead of {paper}" if entry.get("epochs") not in (None, paper) else ""
        return f"reduced budget ({b:g} of the paper's steps{shape}), {where}"
    return f"the recipe's full budget, {where}"


def card(name: str, entry: dict, template: string.Template, family: str = "") -> str:
    from model_cards import picture_n

    run = next(iter(entry["runs"].values()))
    stages, hw = run["stages"], entry.get("hardware", {})
    last = stages[-1]
    head = headline(last["metrics"]) or "fid"
    history = [f"| {s['fraction']:.0%} | {s['epochs']} | {s['steps']} | {s['passes']:.3g} | {fmt(s['metrics'].get(head))} "
               f"| {s['train_s']} | {s['eval_s']} |" for s in stages]
    trail = [s["metrics"].get(head) for s in stages if isinstance(s["metrics"].get(head), (int, float))]
    converged = ""
    if len(trail) >= 2:
        converged = (f"From the previous stage to the last, `{head}` moved by {trail[-1] - trail[-2]:+.4g} "
                     f"({(trail[-1] - trail[-2]) / abs(trail[-2] or 1):+.1%}); a change this large means training "
                     "had not converged at this budget." if abs(trail[-1] - trail[-2]) > 0.02 * abs(trail[-2] or 1)
                     else f"`{head}` changed by less than 2% over the last stage.")
    errors = [f"{k}: {v}" for s in stages for k, v in s["metrics"].items() if k.startswith("error:")]
    finals = [f"| {k} | {fmt(v)} |" for k, v in sorted(last["metrics"].items()) if not k.startswith("error:")]
    others = "\n".join(["", "## Other seeds (last stage)", ""] + [
        f"- seed {seed}, run `{r['run_id']}`: " + ", ".join(f"{k} {fmt(r['stages'][-1]['metrics'].get(k))}"
                                                            for k in SHOWN if k in r["stages"][-1]["metrics"])
        for seed, r in list(entry["runs"].items())[1:]]) if len(entry["runs"]) > 1 else ""
    if errors:
        others += "\n\n## Errors\n\n" + "\n".join(f"- {e}" for e in errors)
    gpu = f", GPU {hw['gpu']}" if hw.get("gpu") else ", no GPU"
    fields = {
        "name": name, "description": entry.get("description", ""), "family": family or entry["plugin"],
        "heldout": ("the 10,000 held-out toy2d points (nothing is tuned on them)" if dataset_of(entry) == "toy2d"
                    else "the Fashion-MNIST test set (nothing is tuned on it)"),
        "recipe": entry["recipe"] + (" " + " ".join(entry["overrides"]) if entry.get("overrides") else ""),
        "date": entry.get("date", "-"), "commit": entry.get("commit", "-"), "budget_line": budget_line(entry),
        "recipe_rows": "\n".join(f"| {k} | {fmt(v)} | {src} |" for k, (v, src) in entry["values"].items()),
        "hardware": f"{hw.get('cpu')} ({hw.get('cpus')} CPUs, shared){gpu}, torch {hw.get('torch')}",
        "run_id": run["run_id"], "steps": last["steps"], "epochs": last["epochs"],
        "per_epoch": last["steps"] // max(last["epochs"], 1), "batch": last["batch"],
        "passes": f"{last['passes']:.3g}", "examples": last["examples"], "wall": f"{entry.get('wall_s', 0):.0f} s",
        "train_s": round(sum(s["train_s"] for s in stages), 1), "eval_s": round(sum(s["eval_s"] for s in stages), 1),
        "grid": f"![{name} samples]({entry['grid']})\n\n{picture_n(name)} samples (`gp sample {run['run_id']} n={picture_n(name)}`)."
        if entry.get("grid") else "No sample grid.",
        "headline": head, "history": "\n".join(history), "converged": converged,
        "final_rows": "\n".join(finals), "others": others,
        "evals": "; ".join(f"`gp eval {run['run_id'][:8]} metrics={m or '(defaults)'} n={n}`" for m, n in last["evals"])
        if last.get("evals") else f"n={int(last['metrics'].get('n', 0))} in the last call (benchmarks/model_cards.py, "
        "stage_metrics: which metrics each call asks for)",
    }
    return template.substitute(fields)


def full_hours(entry: dict) -> float | None:
    """At most the hours one seed of ``entry`` would train at the recipe's full budget on the
    hardware it ran on: its training seconds (each stage's start-up included) over its budget."""
    b, runs = entry.get("budget"), list(entry.get("runs", {}).values())
    if not isinstance(b, (int, float)) or not runs:
        return None
    return round(sum(st["train_s"] for st in runs[0]["stages"]) / b / 3600, 2)


def index(results: dict) -> str:
    rows = []
    for name, e in results["entries"].items():
        if "runs" not in e:
            rows.append(f"| {name} | {e.get('plugin')} | {e.get('recipe')} | failed: {e.get('error', '?')[:80]} | | | | |")
            continue
        last = next(iter(e["runs"].values()))["stages"][-1]
        head = headline(last["metrics"])
        link = f"[{name}]({name}.md)" if e.get("card") else name
        rows.append(f"| {link} | {e['plugin']} | {e['recipe']} {' '.join(e.get('overrides', []))} | "
                    f"{budget_line(e)} | {last['passes']:.3g} | {e.get('wall_s', 0):.0f} | {fmt(full_hours(e))} | "
                    f"{head or '-'} {fmt(last['metrics'].get(head))} | "
                    + " | ".join(fmt(last["metrics"].get(k)) for k in ("fid", "class_coverage", "recall")) + " |")
    from model_cards import EXTRA, MODELS

    absent = [n for n in (*MODELS, *EXTRA) if n not in results["entries"]]
    rows += [f"", f"Not in this results.json (not run): {', '.join(absent)}."] if absent else []
    checks = [check(results, o)[1] for o in ORDERINGS]
    modes = [f"| {linked(n, e.get('grid'))} | {budget_line(e)} | {fmt(m.get('modes_captured'))} of {fmt(m.get('modes_total'))} | "
             f"{fmt(m.get('modes_hit'))} | {fmt(m.get('hq_fraction'))} | {fmt(m.get('reverse_kl'))} |"
             for n, e in results["entries"].items() for m in final(e)[:1] if "modes_captured" in m]
    hw = next((e["hardware"] for e in results["entries"].values() if "hardware" in e), {})
    return "\n".join([
        "# Model cards", "",
        "Each model's recipe trained through gp's driver (`gp submit`, then `resume=RUN_ID`) in stages, and scored "
        "after each stage by `gp eval` only, on the Fashion-MNIST test set (nothing is tuned on it). Written by "
        "`python benchmarks/model_cards.py` (training and `gp eval`) and `python benchmarks/cards.py` (these pages, "
        "from [results.json](results.json)). Hardware: "
        f"{hw.get('cpu')} ({hw.get('cpus')} CPUs, shared), GPU {hw.get('gpu') or 'none'}.", "",
        "| run | model | recipe | budget | passes | wall s | paper budget here (h) | headline (last stage) | FD | "
        "class coverage | recall |", "|---|---|---|---|---|---|---|---|---|---|---|", *rows, "",
        "\"Paper budget here\" is at most one seed's training time at the recipe's full budget on this hardware: "
        "its training seconds over its budget, with each stage's start-up (about 20 s) scaled up too, so an upper "
        f"bound, loosest for the smallest budgets: {sum(h for h in map(full_hours, results['entries'].values()) if h):.0f} h "
        "for the whole set.", "",
        "## Published orderings, checked from results.json", "", *[f"- {c}" for c in checks], "",
        spreads_note(results), "",
        "## Floors", "", *floors(results), "",
        "## Grid of 25 Gaussians (`gp eval` metric `modes`)", "",
        "| run | budget | modes captured (a fifth of the uniform share) | modes hit (PacGAN's code) | "
        "high-quality share | reverse KL (nats) |", "|---|---|---|---|---|---|", *modes,
        f"| GAN, Lin et al. 2018, Table 1 (mean of 10 runs) | 400,000 updates | - | {PACGAN_GAN[0]} | "
        f"{PACGAN_GAN[1]} | {PACGAN_GAN[2]} |", "", near_pacgan(results), "",
        "Regenerate: `python benchmarks/model_cards.py [--only NAME,...] [--budget F] [--extra]`, then "
        "`python benchmarks/cards.py`.", ""])


def render(results: dict, out: pathlib.Path = OUT) -> None:
    template = string.Template((OUT / "card.md.tmpl").read_text())
    for name, entry in results["entries"].items():
        if entry.get("runs") and entry.get("recipe") and "grid" in entry:  # a model's own card
            entry["card"] = True
            (out / f"{name}.md").write_text(card(name, entry, template))
    (out / "README.md").write_text(index(results))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=pathlib.Path, default=OUT)
    args = p.parse_args(argv)
    render(json.loads((args.out / "results.json").read_text()), args.out)


if __name__ == "__main__":
    main()
