"""Render the model cards of ``benchmarks/model_cards.py`` from its ``results.json``.

Each card states the budget, the config, the pictures and the numbers, then compares them
with the published orderings on MNIST (shared/notes/evaluation.md; "(R)" marks values
recalled from a paper, not re-read). Every number printed comes from results.json.
"""
from __future__ import annotations

import json
import math
import pathlib

FULL_EPOCH = 60_000  # Fashion-MNIST training images
PUBLISHED_NLL = {"pixelrnn": ("Row LSTM 80.54 (R); Diagonal BiLSTM 79.20", 80.54),
                 "pixelcnn": ("PixelCNN 81.30 (R)", 81.30),
                 "vae": ("VAE, 1 stochastic layer, IWAE k=5000: 86.76 (R)", 86.76)}
LIKELIHOOD_ORDER = ("pixelrnn", "pixelcnn", "vae")
AE_FAMILY = ("ae", "linear-ae", "dae", "cae", "scae", "aae")
GANS = ("gan", "dcgan", "lsgan")
# (discriminator, generator) loss when the generator matches the data, from each loss's formula
EQUILIBRIUM = {"gan": (2 * math.log(2), math.log(2)), "dcgan": (2 * math.log(2), math.log(2)), "lsgan": (1.0, 0.0)}


def f(x, digits: int = 1) -> str:
    return "-" if x is None or (isinstance(x, float) and x != x) else f"{x:.{digits}f}"


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


def epochs_of(images) -> str:
    return f"{images / FULL_EPOCH:.2f}" if images else "-"


# ---------------------------------------------------------------- headline numbers


def nll_headline(e: dict) -> dict | None:
    """The likelihood row a card leads with: exact, or the bound with the largest k."""
    lik = e.get("metrics", {}).get("likelihood")
    if not lik:
        return None
    return max(lik["rows"], key=lambda r: r.get("k", 0))


def sweep_acc(e: dict, labels, mode: str) -> float | None:
    for r in e.get("sweep", []):
        if r.get("labels") == labels and r.get("mode") == mode and r.get("accuracy") is not None:
            return r["accuracy"]
    return None


def headline(e: dict) -> str:
    m = e.get("metrics", {})
    if e.get("status") == "crashed":
        return "crashed: " + e.get("error", "")[:80]
    if (row := nll_headline(e)) is not None:
        bound = "" if m["likelihood"]["exact"] else f" (IWAE bound, k={row['k']})"
        return f"test NLL {f(row['nll_nats'])} nats, {f(row['bits_per_dim'], 3)} bits/dim{bound}"
    if e["plugin"] in ("sae", "sdae"):
        return (f"accuracy {pct(sweep_acc(e, 'all', 'pretrained'))} (all labels), "
                f"{pct(sweep_acc(e, 100, 'pretrained'))} (100 labels; scratch {pct(sweep_acc(e, 100, 'scratch'))})")
    if e["plugin"] in ("cvae", "aae") and e.get("sweep"):
        acc = f"semi-supervised accuracy {pct(sweep_acc(e, 100, 'semi-supervised'))} (100 labels), " \
              f"{pct(sweep_acc(e, 'all', 'semi-supervised'))} (all)"
        rec = m.get("reconstruction")
        return acc + (f"; reconstruction {f(rec['mse_per_image'])} SE/image" if rec else "")
    if "reconstruction" in m:
        pca = m.get("pca")
        base = f" (PCA-{pca['k']}: {f(pca['mse_per_image'])})" if pca else ""
        return f"test squared error {f(m['reconstruction']['mse_per_image'])}/image{base}"
    if "adversarial" in m:
        a = m["adversarial"]
        return f"D loss train {f(a['train']['discriminator'], 3)} / test {f(a['test']['discriminator'], 3)}"
    return "-"


def pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


# ---------------------------------------------------------------- card sections


def budget_section(e: dict) -> str:
    t = e["job"]["trainer"]
    rows = [["steps (batches)", f"{e.get('steps', '-')} = {t['epochs']} epoch(s) x {t['steps_per_epoch']} steps "
             f"(budget scale {e['scale']})"],
            ["batch size", t["batch_size"]],
            ["images seen", f"{e.get('images', '-')} ({epochs_of(e.get('images'))} passes over the 60,000)"],
            ["training wall time", f"{f(e.get('train_s'))} s (includes the loop's per-epoch sample grid, "
             "figures and checkpoint)"],
            ["evaluation wall time", f"{f(e.get('eval_s'))} s"],
            ["label sweep wall time", f"{f(e.get('sweep_s'))} s" if e.get("sweep_s") is not None else "-"],
            ["torch threads", e["threads"]],
            ["load average (1 min) before / after", " / ".join(str(x) for x in e.get("load", []))],
            ["data it trained on", data_words(e["data"])]]
    if e.get("pretrain_steps") is not None:
        rows.insert(1, ["of which greedy pretraining", f"{e['pretrain_steps']} steps (one epoch of "
                        f"{t['steps_per_epoch']} steps per layer)"])
    return "## Budget\n\n" + table(["", ""], rows)


def data_words(kind: str) -> str:
    if kind == "binary":
        return "Fashion-MNIST binarised once at 0.5 (pixel > 0.5 -> 1; deterministic, the same for train and test)"
    return "Fashion-MNIST, grey levels in [0, 1]"


def config_section(e: dict) -> str:
    shown = json.loads(json.dumps(e["job"]))
    if shown["data"].get("root"):  # a temporary folder of the run
        shown["data"]["root"] = "<temporary folder: Fashion-MNIST binarised at 0.5, IDX files written by the script>"
    job = json.dumps(shown, indent=1)
    model = json.dumps(e.get("model_config", {}), indent=1)
    return ("## Config\n\nThe job passed to `gp.train.loop.run(config, LocalSession())`:\n\n```json\n" + job +
            "\n```\n\nThe model config after validation (defaults filled in):\n\n```json\n" + model + "\n```")


def pictures_section(e: dict) -> str:
    p = e["plugin"]
    out = "## Samples\n\n"
    out += f"![{p} samples]({p}.png)\n\n{e.get('sample_note', '')}, drawn after training with `model.eval()`."
    out += sample_words(e)
    return out + f"\n\n## Loss curve\n\n![{p} losses]({p}-losses.png)\n\nOne training batch's losses as the " \
                 "loop reported them (at most every 0.5 s), against the step."


def sample_words(e: dict) -> str:
    """How this family's ``sample`` draws, and what that does to the grid."""
    k = e.get("metrics", {}).get("pca", {}).get("k")
    if e["family"] == "autoregressive":
        return " Each pixel is a Bernoulli draw given the pixels before it (raster order)."
    if e["data"] == "binary":
        return " The pictures are Bernoulli means (probabilities), not binary draws."
    if e["family"] == "autoencoder" and e["plugin"] != "aae" and k:
        text = (" An autoencoder has no prior: the plugin's `sample` decodes codes drawn from a diagonal Gaussian "
                "fitted to the training codes.")
        if k >= 100:
            text += (f" With {k} code units the samples look alike (an average garment), most likely because "
                     "drawing the units independently ignores their correlations; reconstructions (numbers below) "
                     "are the measure of these models, not samples.")
        return text
    return ""


def reconstruction_section(m: dict, e: dict) -> str:
    r = m["reconstruction"]
    rows = [["squared error per image (sum over 784 pixels)", f(r["mse_per_image"], 2)],
            ["Bernoulli cross-entropy per image, nats", f(r["bce_nats"], 1)],
            ["cross-entropy of a perfect reconstruction (entropy of the targets)", f(r["bce_floor_nats"], 1)]]
    if "pca" in m:
        rows.append([f"PCA with {m['pca']['k']} components (fit on the training images), squared error",
                     f(m["pca"]["mse_per_image"], 2)])
    which = "binarised" if e["data"] == "binary" else "grey"
    text = ("The targets are binary, so a perfect reconstruction has cross-entropy 0" if e["data"] == "binary" else
            "The cross-entropy uses the grey levels as targets, so it cannot go below the entropy row")
    text += "; decoder outputs are clamped to [1e-6, 1 - 1e-6]."
    if e["plugin"] in ("sae", "sdae"):
        text += (" After fine-tuning for classification the encoder has moved while the decoders kept their "
                 "pretraining weights, so this is the reconstruction of the stack as trained for the card, "
                 "not of an autoencoder tuned to reconstruct.")
    return (f"### Reconstruction, {r['images']} {which} test images, decode(encode(x))\n\n" + table(["", "value"], rows) +
            "\n\n" + text)


def likelihood_section(m: dict, e: dict) -> str:
    lik = m["likelihood"]
    rows = [[("exact" if lik["exact"] else f"IWAE k={r['k']}" + (" (= ELBO)" if r["k"] == 1 else "")),
             f(r["nll_nats"], 2), f(r.get("se_nats"), 2), f(r["bits_per_dim"], 4)] for r in lik["rows"]]
    how = ("exact: the sum over pixels of -log p(x_i | x_<i)" if lik["exact"] else
           "-L_k, the importance-weighted bound of Burda et al. 2016 (an upper bound on the NLL that tightens "
           "as k grows; same seed for every k)")
    return (f"### Test negative log-likelihood, first {lik['images']} test images binarised at 0.5\n\n"
            + table(["estimate", "NLL, nats", "standard error, nats", "bits/dim"], rows) +
            f"\n\nNLL is {how}; bits/dim = NLL / (784 ln 2). " + (
                "The model trained on the same representation (Fashion-MNIST thresholded at 0.5), so this is a "
                "likelihood of its own kind of data." if e["data"] == "binary" else
                "The model trained on grey images, not on this binarised data, so the number says little about it."))


def accuracy_section(e: dict) -> str:
    rows = [[r["labels"], r["mode"], r.get("steps", "-"), r.get("batch", "-"), pct(r.get("accuracy")),
             f(r.get("seconds")), r.get("status", "-") + (": " + r["error"] if r.get("error") else "")]
            for r in e.get("sweep", [])]
    return "### Label sweep, test accuracy on the 10,000 test images\n\n" + table(
        ["labels", "network", "fine-tuning steps" if e["plugin"] in ("sae", "sdae") else "steps", "batch",
         "accuracy", "wall s", "status"], rows) + "\n\n" + sweep_protocol(e["plugin"])


def sweep_protocol(plugin: str) -> str:
    text = semi_or_stack(plugin)
    if plugin == "aae":
        text += (" The sweep trains `variant=semi-supervised` (a softmax class code beside z, a second "
                 "discriminator on it and a classification update); the main run above is the default "
                 "unsupervised variant.")
    return text


def semi_or_stack(plugin: str) -> str:
    if plugin in ("sae", "sdae"):
        return ("*pretrained*: the stack after greedy layer-wise pretraining on all 60,000 images (unlabelled), "
                "fine-tuned by resuming its checkpoint; *scratch*: the same architecture with `pretrain_epochs=0` "
                "(only the fine-tuning phase), fine-tuned for the same number of steps. With 100 or 1,000 labels "
                "both fine-tune on exactly the images `data.labelled=N` keeps labelled (balanced by class, seed 0), "
                "tiled into a pool so that an epoch has enough batches: the fine-tuning loss ignores unlabelled "
                "images, so this is the same objective without the ~99% of batches that hold no label. With all "
                "labels, *pretrained* is the card's main run.")
    return ("One run per label count with `data.labelled=N` (the other training labels become -1), all 60,000 "
            "images, accuracy of `classify(x)`. The loop draws batches uniformly, so with 100 labels a batch of "
            "128 holds 128 x 100 / 60,000 = 0.21 labelled images on average.")


def conditional_section(c: dict, latent: int | None) -> str:
    a = c["agreement"]
    text = (f"### Class-conditional samples\n\n{pct(a)} of {c['samples']} samples (the same number per class) "
            "are put in the class they were drawn for by the model's own classifier q(y|x) (chance: 10%). "
            "The judge is part of the same model, so this shows whether the decoder uses the label at all, "
            "not how good the samples are.")
    if a < 0.75:
        text += (f" Here it does so {'hardly' if a < 0.25 else 'only partly'}: many samples drawn for one class "
                 "look like another to q(y|x), which is why rows of the sample grid mix classes. With a "
                 f"{latent}-dimensional code the decoder can reconstruct from z alone and learn to ignore y, a "
                 "known weakness of conditional VAEs; this budget does not get past it.")
    return text


def adversarial_verdict(d: float, d0: float | None) -> str:
    if d0 is None:
        return ""
    if d < 0.6 * d0:
        return (f"The discriminator's loss ({f(d, 3)}) is well below its equilibrium value ({f(d0, 3)}): it still "
                "tells generated images from real ones, so the generator has not caught up in this budget.")
    if d > 1.4 * d0:
        return f"The discriminator's loss ({f(d, 3)}) is above its equilibrium value ({f(d0, 3)}): it is losing."
    return f"The discriminator's loss ({f(d, 3)}) is near its equilibrium value ({f(d0, 3)})."


def adversarial_section(m: dict, e: dict) -> str:
    a = m["adversarial"]
    d0, g0 = EQUILIBRIUM.get(e["plugin"], (None, None))
    rows = [[s, f(a[s]["discriminator"], 3), f(a[s]["generator"], 3)] for s in ("train", "test")]
    rows.append(["if the generator matched the data (D's best answer is chance)", f(d0, 3), f(g0, 3)])
    return (f"### Adversarial losses after training ({a.get('images', 2000)} images per split, the same noise)\n\n" +
            table(["real images from", "discriminator loss", "generator loss"], rows) +
            "\n\n" + adversarial_verdict(a["test"]["discriminator"], d0) +
            " A discriminator loss far lower on training than on test images would mean it memorises the "
            f"training set; here test minus train is {f(a['test']['discriminator'] - a['train']['discriminator'], 3)}. Losses are the plugin's own `forward` in eval mode (batch norm uses running statistics).")


def numbers_section(e: dict) -> str:
    m = e.get("metrics", {})
    parts = []
    if "reconstruction" in m:
        parts.append(reconstruction_section(m, e))
    if "likelihood" in m:
        parts.append(likelihood_section(m, e))
    if "accuracy" in m:
        parts.append(f"### Test accuracy of the main run\n\n{pct(m['accuracy'])} of the test images "
                     f"(`classify(x)`, every training label, the budget above).")
    if e.get("sweep"):
        parts.append(accuracy_section(e))
    if "conditional" in m:
        parts.append(conditional_section(m["conditional"], e.get("model_config", {}).get("latent_dim")))
    if "adversarial" in m:
        parts.append(adversarial_section(m, e))
    if e.get("last_losses"):
        parts.append("### Last logged training losses\n\n" + table(
            ["loss", "value"], [[k, f(v, 4)] for k, v in e["last_losses"].items()]))
    return "## Numbers\n\n" + ("\n\n".join(parts) if parts else "None measured.")


# ---------------------------------------------------------------- against the published results


def agree_word(ok: bool) -> str:
    return "**agrees**" if ok else "**does not agree**"


def binomial_se(p: float | None, n: int = 10_000) -> str:
    return "-" if p is None else f"{100 * math.sqrt(p * (1 - p) / n):.1f}"


def likelihood_compare(e: dict, models: dict) -> str:
    present = [p for p in LIKELIHOOD_ORDER if p in models and nll_headline(models[p])]
    rows = [[p, PUBLISHED_NLL[p][0], f(nll_headline(models[p])["nll_nats"]), models[p].get("images", "-"),
             epochs_of(models[p].get("images")), arch_words(models[p])] for p in present]
    out = table(["model", "published, binarised MNIST, nats", "ours, Fashion-MNIST at 0.5, nats",
                 "images seen", "passes", "ours"], rows)
    ours, ok = likelihood_order(models)
    out += (f"\n\nPublished ordering: {' < '.join(present)}. Ours: "
            f"{' < '.join(f'{p} {nll_text(models[p])}' for p in ours)}; it {agree_word(ok)} with the published one.")
    out += ties(models, ours)
    if not ok:
        out += " " + likelihood_why(models, present)
    return out + (" Values differ from the published ones in any case: other data (Fashion-MNIST has more "
                  "texture than digits), another binarisation (a fixed threshold at 0.5 here; the published "
                  "numbers use stochastically binarised MNIST, whose pixels are Bernoulli draws of the grey level, "
                  "so the data itself has more entropy) and a budget of minutes on one CPU thread. "
                  "Compare orderings, not values.")


def likelihood_order(models: dict) -> tuple[list[str], bool]:
    """Our ordering of the likelihood models (lowest NLL first) and whether it is the published one."""
    present = [p for p in LIKELIHOOD_ORDER if p in models and nll_headline(models[p])]
    ours = sorted(present, key=lambda p: nll_headline(models[p])["nll_nats"])
    return ours, ours == present and len(present) > 1


def nll_text(e: dict) -> str:
    r = nll_headline(e)
    return f"{f(r['nll_nats'])} ± {f(r.get('se_nats'))}"


def ties(models: dict, ours: list[str]) -> str:
    """Neighbours in our ordering whose NLLs differ by less than two (unpaired) standard errors."""
    out = []
    for a, b in zip(ours, ours[1:]):
        ra, rb = nll_headline(models[a]), nll_headline(models[b])
        se = math.hypot(ra.get("se_nats") or 0, rb.get("se_nats") or 0)
        if rb["nll_nats"] - ra["nll_nats"] < 2 * se:
            out.append(f"{a} and {b} differ by {f(rb['nll_nats'] - ra['nll_nats'])} nats, less than two standard "
                       f"errors ({f(2 * se)}): a tie at this sample size")
    note = " (unpaired standard errors, conservative since every model is scored on the same images)."
    return (" Note: " + "; ".join(out) + note) if out else ""


def arch_words(e: dict) -> str:
    c = e.get("model_config", {})
    if e["plugin"] == "vae":
        return f"784-{c.get('hidden')}-({c.get('latent_dim')})-{c.get('hidden')}-784"
    return f"{c.get('variant')}, {c.get('layers')} layer(s) of {c.get('hidden')} channels"


def likelihood_why(models: dict, present: list[str]) -> str:
    seen = {p: epochs_of(models[p].get("images")) for p in present}
    text = ("Why: the budget. A step of the autoregressive models costs far more than a VAE step, so in a "
            "budget of a minute or two they see far fewer images (passes over the data: "
            f"{', '.join(f'{p} {v}' for p, v in seen.items())}); they are also much smaller than the published "
            "ones (PixelRNN: 7 layers of h=16 Diagonal BiLSTM; ours is one faster Row LSTM layer), which were "
            "trained to convergence.")
    ours, _ = likelihood_order(models)
    if "vae" in ours[:-1]:
        text += (" The VAE's number is an upper bound on its NLL, so its true NLL is lower still: the bound "
                 "does not explain a VAE that wins.")
    return text


def stack_compare(e: dict, models: dict) -> str:
    rows, wins = [], 0
    for n in (100, 1000, "all"):
        pre, scr = sweep_acc(e, n, "pretrained"), sweep_acc(e, n, "scratch")
        better = pre is not None and scr is not None and pre > scr
        wins += better
        rows.append([n, pct(pre), pct(scr), binomial_se(pre), "yes" if better else "no"])
    out = ("Published: greedy layer-wise pretraining gives a deep network a better test error than random "
           "initialisation (Bengio et al. 2007), and denoising pretraining beats plain autoencoder pretraining "
           "(Vincent et al. 2010; a stacked denoising AE reaches 1.30% test error on MNIST in the classic "
           "tutorial).\n\n" + table(["labels", "pretrained", "scratch", "binomial s.e., points", "pretraining helps"],
                                    rows))
    out += f"\n\nPretraining helps in {wins} of 3 label settings here."
    other = "sae" if e["plugin"] == "sdae" else "sdae"
    if other in models and models[other].get("sweep"):
        out += "\n\n" + denoising_compare(models.get("sdae", {}), models.get("sae", {}))
    return out + ("\n\nWhy it can differ: one pretraining epoch per layer of a few hundred steps (the papers "
                  "pretrain for tens of epochs), fine-tuning with Adam (which makes training from scratch easy "
                  "with enough labels) and a single seed; differences within about two binomial standard errors "
                  "are noise.")


def acc_tie(a: float, b: float, n: int = 10_000) -> bool:
    """Two test accuracies (n images each) within two standard errors of their difference."""
    return abs(a - b) < 2 * math.sqrt((a * (1 - a) + b * (1 - b)) / n)


def denoising_compare(sdae: dict, sae: dict) -> str:
    rows, wins = [], 0
    for n in (100, 1000, "all"):
        d, s = sweep_acc(sdae, n, "pretrained"), sweep_acc(sae, n, "pretrained")
        better = d is not None and s is not None and d > s
        tie = d is not None and s is not None and acc_tie(d, s)
        wins += better
        rows.append([n, pct(d), pct(s), "tie (within 2 s.e.)" if tie else ("yes" if better else "no")])
    out = ("Denoising vs plain pretraining (both fine-tuned, same budget):\n\n" +
           table(["labels", "sdae", "sae", "sdae better"], rows) +
           f"\n\nThe published claim (sdae better than sae) {agree_word(wins >= 2)} here: sdae is higher in "
           f"{wins} of 3 settings.")
    if all(r[3].startswith("tie") for r in rows):
        out += (" Every difference is within two standard errors, so this budget cannot separate them: both "
                "stacks start from the same initialisation, see the same batches (seed 0) and get one short "
                "pretraining epoch per layer, and fine-tuning brings them to nearly the same network (the scratch "
                "rows, where corruption plays no part, are identical by construction).")
    return out


def semi_compare(e: dict, models: dict) -> str:
    rows = []
    for p, pub in (("aae", "1.90 / 1.60 / 0.85 (R)"), ("cvae", "M2: 3.33 with 100 labels (R)")):
        if p in models and models[p].get("sweep"):
            m = models[p]
            errs = [pct(None if (a := sweep_acc(m, n, "semi-supervised")) is None else 1 - a) for n in (100, 1000, "all")]
            rows.append([p, pub, *errs])
    out = ("Published, MNIST test error with 100 / 1,000 / all labels: semi-supervised AAE 1.90 / 1.60 / 0.85 (R) "
           "(Makhzani et al. 2015), M2 3.33 with 100 labels (R) (Kingma et al. 2014).\n\n" +
           table(["model", "published error, %", "ours 100", "ours 1,000", "ours all"], rows))
    a = sweep_acc(models.get("aae", {}), 100, "semi-supervised")
    c = sweep_acc(models.get("cvae", {}), 100, "semi-supervised")
    if a is not None and c is not None:
        out += f"\n\nWith 100 labels the published ordering (AAE below M2 in error) {agree_word(a > c)} here."
    row = next((r for r in e.get("sweep", []) if r.get("labels") == 100 and r.get("batch")), None)
    if row:
        n_steps, batch = row["steps"], row["batch"]
        seen = n_steps * batch * 100 / FULL_EPOCH
        out += (f"\n\nWhy the errors are far from the published ones: the 100-label run takes {n_steps} steps of "
                f"{batch}, "
                f"so it meets about {seen:.0f} labelled images in all (each label {seen / 100:.1f} times); the "
                "papers train for hundreds of epochs. Fashion-MNIST is also harder than MNIST (a supervised "
                "two-layer convnet reaches 92-93%).")
    return out


def ae_compare(e: dict, models: dict) -> str:
    rows = []
    for p in AE_FAMILY:
        m = models.get(p, {}).get("metrics", {})
        if "reconstruction" in m and "pca" in m:
            r, b = m["reconstruction"]["mse_per_image"], m["pca"]["mse_per_image"]
            rows.append([p, m["pca"]["k"], f(r, 2), f(b, 2), f(r / b, 2)])
    m = e["metrics"]
    ratio = m["reconstruction"]["mse_per_image"] / m["pca"]["mse_per_image"]
    claim = {"ae": ("a nonlinear autoencoder reconstructs better than PCA with the same code size "
                    "(Hinton and Salakhutdinov 2006)", ratio < 1),
             "linear-ae": ("a linear autoencoder trained on squared error converges to the PCA subspace, so its "
                           "error equals PCA's (Baldi and Hornik 1989)", abs(ratio - 1) < 0.05)}
    out = table(["model", "code size k", "test squared error", "PCA-k", "ratio"], rows) + "\n\n"
    if e["plugin"] in claim:
        text, ok = claim[e["plugin"]]
        out += f"Published: {text}. Ours: ratio {f(ratio, 2)}; it {agree_word(ok)}."
        if not ok:
            out += (" Why: the budget (a few thousand Adam steps); the ratio should move towards the claim with "
                    "`--budget-scale` above 1." if e["plugin"] == "ae" else
                    " Why: Adam has not reached the subspace in this budget (the error approaches PCA's from above).")
    else:
        out += ("No published reconstruction number applies: this model trades reconstruction for a regulariser "
                "(noise, contraction or a prior on the code), so an error above the plain AE's or PCA's is expected; "
                "its published claims concern features (see the sdae card) or samples.")
    return out


def gan_compare(e: dict, models: dict) -> str:
    rows = [[p, f(models[p]["metrics"]["adversarial"]["train"]["discriminator"], 3),
             f(models[p]["metrics"]["adversarial"]["test"]["discriminator"], 3), f(EQUILIBRIUM[p][0], 3)]
            for p in GANS if "adversarial" in models.get(p, {}).get("metrics", {})]
    return ("Published (Lucic et al. 2018, FID on Fashion-MNIST, best of 100 settings): NS GAN 26.5, LSGAN 30.7 "
            "(R) - the GAN variants land in one band and no loss wins consistently. This card does not compute "
            "FID (benchmarks/eval_reproduction.py writes docs/evaluation.md with FD/KID against our own "
            "classifier), so it cannot confirm or contradict that ordering; it shows the sample grid and the "
            "losses.\n\n" + table(["model", "D loss, train images", "D loss, test images", "D loss at equilibrium"],
                                  rows) +
            "\n\nLosses of different games are not comparable with each other, only with their own equilibrium.")


def compare_section(e: dict, models: dict) -> str:
    p, m = e["plugin"], e.get("metrics", {})
    parts = []
    if p in LIKELIHOOD_ORDER and "likelihood" in m:
        parts.append(likelihood_compare(e, models))
    if p in ("sae", "sdae") and e.get("sweep"):
        parts.append(stack_compare(e, models))
    if p in ("cvae", "aae") and e.get("sweep"):
        parts.append(semi_compare(e, models))
    if p in AE_FAMILY and "pca" in m:
        parts.append(ae_compare(e, models))
    if p in GANS and "adversarial" in m:
        parts.append(gan_compare(e, models))
    body = "\n\n".join(parts) if parts else "No published number on MNIST applies to this model's measurements."
    return "## Against the published results (MNIST)\n\n" + body


def problems_section(e: dict) -> str:
    notes = []
    if e.get("status") != "finished":
        notes.append(f"Main run: {e.get('status')}" + (f" - `{e['error']}`" if e.get("error") else ""))
    for r in e.get("sweep", []):
        if r.get("status") not in ("finished", None):
            notes.append(f"Sweep ({r.get('labels')} labels, {r.get('mode')}): {r.get('status')}"
                         + (f" - `{r['error']}`" if r.get("error") else ""))
    return "## Problems\n\n" + ("\n".join(f"- {n}" for n in notes) if notes else "None: every run finished.")


# ---------------------------------------------------------------- files


def render_card(e: dict, results: dict) -> str:
    models = results["models"]
    head = (f"# `{e['plugin']}` model card\n\n{e['paper']}\n\nFamily `{e['family']}`; capabilities: "
            f"{', '.join(e['capabilities']) or 'none'}. Generated by `benchmarks/model_cards.py` on {e['date']} "
            f"(budget scale {e['scale']}{', QUICK smoke run' if e.get('quick') else ''}); every number below "
            "comes from that script's `results.json` - do not edit by hand.")
    if e.get("status") == "crashed":
        return "\n\n".join([head, config_section(e), problems_section(e)]) + "\n"
    sections = [head, budget_section(e), pictures_section(e), numbers_section(e), compare_section(e, models),
                problems_section(e), config_section(e)]
    return "\n\n".join(sections) + "\n"


def verdicts(models: dict) -> list[str]:
    """One line per published ordering that this run can check."""
    out = []
    ours, ok = likelihood_order(models)
    if len(ours) > 1:
        out.append(f"Test NLL, PixelRNN < PixelCNN < VAE (van den Oord et al. 2016; Burda et al. 2016): ours "
                   f"{' < '.join(ours)}; {agree_word(ok)}.{ties(models, ours)}")
    pairs = [(sweep_acc(models[p], n, "pretrained"), sweep_acc(models[p], n, "scratch"))
             for p in ("sae", "sdae") if p in models for n in (100, 1000, "all")]
    helps = [a > b for a, b in pairs if a is not None and b is not None]
    if helps:
        out.append(f"Greedy pretraining beats the same network from scratch (Bengio et al. 2007): in {sum(helps)} of "
                   f"{len(helps)} (model, labels) settings; {agree_word(2 * sum(helps) > len(helps))}.")
    if "sae" in models and "sdae" in models:
        pairs = [(sweep_acc(models["sdae"], n, "pretrained"), sweep_acc(models["sae"], n, "pretrained"))
                 for n in (100, 1000, "all")]
        pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
        wins, level = sum(a > b for a, b in pairs), sum(acc_tie(a, b) for a, b in pairs)
        verdict = "**cannot tell**: every difference is within two standard errors" if level == len(pairs) else \
            agree_word(2 * wins > len(pairs))
        out.append(f"Stacked denoising AE beats stacked AE (Vincent et al. 2010): sdae higher in {wins} of "
                   f"{len(pairs)} label settings; {verdict} (see the sdae card for the margins).")
    a, c = (sweep_acc(models.get(p, {}), 100, "semi-supervised") for p in ("aae", "cvae"))
    if a is not None and c is not None:
        out.append(f"With 100 labels, semi-supervised AAE below M2 in error (1.90% vs 3.33%, R): ours "
                   f"{pct(1 - a)} vs {pct(1 - c)}; {agree_word(a > c)} - far from the published values at this budget.")
    out += [line for line in (pca_verdict(models, "ae", "below", lambda r: r < 1),
                              pca_verdict(models, "linear-ae", "equal to", lambda r: abs(r - 1) < 0.05)) if line]
    return out


def pca_verdict(models: dict, plugin: str, words: str, ok) -> str | None:
    m = models.get(plugin, {}).get("metrics", {})
    if "pca" not in m:
        return None
    r = m["reconstruction"]["mse_per_image"] / m["pca"]["mse_per_image"]
    return (f"`{plugin}` test squared error {words} PCA's with the same code size ({m['pca']['k']}): ratio "
            f"{f(r, 2)}; {agree_word(ok(r))}.")


def render_index(results: dict) -> str:
    run = results.get("last_run", {})
    mach = run.get("machine", {})
    rows = [[f"[{p}]({p}.md)", e.get("family", "-"), e.get("data", "-"),
             f"{e.get('steps', '-')} x {e['job']['trainer']['batch_size']} ({epochs_of(e.get('images'))})",
             f(e.get("train_s")), headline(e)] for p, e in results["models"].items()]
    missing = [p for p in results.get("registered", []) if p not in results["models"]]
    out = ("# Model cards\n\nEvery registered model trained on Fashion-MNIST with a small fixed budget on a "
           f"{mach.get('cpus', '?')}-core CPU machine shared with other jobs, one torch thread per run, by "
           f"`{run.get('command', 'python benchmarks/model_cards.py')}` (commit {run.get('commit', '?')}, "
           f"{mach.get('date', '?')}, torch {mach.get('torch', '?')}, budget scale {run.get('scale', '?')}). "
           f"Whole run: {f(run.get('seconds', 0) / 60)} minutes; load average at the end "
           f"{mach.get('load_avg')}. Budgets are steps, so the numbers do not depend on the load; the wall times "
           "do. The published numbers are on MNIST: compare orderings, not values (each card says whether ours "
           "agrees and why not).\n\n")
    out += table(["model", "family", "data", "steps x batch (passes)", "train s", "headline (test set)"], rows)
    if missing:
        out += f"\n\nRegistered but without a card in this run: {', '.join(missing)}."
    lines = verdicts(results["models"])
    if lines:
        out += "\n\n## Published orderings (MNIST) against ours\n\n" + "\n".join(f"- {x}" for x in lines)
    return out + "\n\nRegenerate: `python benchmarks/model_cards.py` (all), `--only NAME,...`, `--budget-scale S`, " \
                 "`--quick` (smoke run into a temp dir), `--report-only` (re-render from results.json).\n"


def write_all(results: dict, out: pathlib.Path) -> None:
    for plugin, entry in results["models"].items():
        (out / f"{plugin}.md").write_text(render_card(entry, results))
    (out / "README.md").write_text(render_index(results))
