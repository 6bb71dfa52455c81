"""benchmarks/cards.py: the ordering checker, the floors and the card renderer on a
hand-made results dict; the benchmark itself end to end (slow)."""
import json
import os
import string
import subprocess
import sys

import pytest

from tests.helpers import INHERITED_NOT, ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import cards  # noqa: E402


def stage(fraction, epochs, **metrics):
    return {"fraction": fraction, "epochs": epochs, "steps": epochs * 10, "batch": 100, "examples": 1000,
            "passes": epochs, "train_s": 1.0, "eval_s": 0.5, "metrics": metrics}


def entry(plugin, *finals, recipe="paper", budget=0.01, stages=None):
    runs = {str(i): {"run_id": f"run{plugin}{i}", "stages": [stage(1.0, 10, **m)]} for i, m in enumerate(finals)}
    if stages:  # the history before the last stage
        runs["0"]["stages"] = stages + runs["0"]["stages"]
    return {"plugin": plugin, "recipe": recipe, "description": f"{plugin} described", "budget": budget,
            "values": {"trainer.epochs": [10, "paper, section 4"]}, "overrides": [], "wall_s": 12.0,
            "hardware": {"cpu": "Test CPU", "cpus": 2, "gpu": None, "torch": "2"}, "runs": runs, "grid": None,
            "date": "2026-12-02 08:00", "commit": "abc"}


@pytest.fixture
def results():
    return {"entries": {
        "gan": entry("gan", {"fid": 50.0, "class_coverage": 1.0, "recall": 0.2, "parzen_ll": 100.0,
                             "parzen_kmeans_ll": 300.0, "parzen_real_ll": 250.0}),
        "dcgan": entry("dcgan", {"fid": 40.0, "class_coverage": 0.8, "recall": 0.0}),
        "lsgan": entry("lsgan", {"fid": 45.0, "class_coverage": 1.0, "recall": 0.1}),
        "vae": entry("vae", {"fid": 48.0, "nll_nats": 300.0, "nll_binary_nats": 90.0, "bits_per_dim": 0.5,
                             "bits_per_dim_binary": 0.17, "bits_per_dim_independent": 0.4, "class_coverage": 1.0,
                             "recall": 0.3},
                     stages=[stage(0.1, 1, nll_nats=400.0), stage(0.3, 3, nll_nats=350.0)]),
        "aae-semi-100": entry("aae", {"accuracy": 0.80}, {"accuracy": 0.84}, {"accuracy": 0.82},
                              recipe="semi-supervised-100"),
        "cvae-semi-100": entry("cvae", {"accuracy": 0.70, "accuracy_labels_only": 0.6},
                               {"accuracy": 0.72, "accuracy_labels_only": 0.62}, recipe="semi-supervised-100"),
    }}


def test_an_ordering_that_holds_is_reported_with_its_numbers(results):
    verdict, text = cards.check(results, (("accuracy",), "higher", [["aae-semi-100"], ["cvae-semi-100"],
                                                                    ["cvae-semi-100:accuracy_labels_only"]], "semi"))
    assert verdict == "reproduced" and "**reproduced**" in text
    assert "aae-semi-100 0.82 ± 0.02 (sd over 3 seeds)" in text and "cvae-semi-100:accuracy_labels_only 0.61" in text


def test_an_ordering_that_holds_by_less_than_a_seeds_sd_is_within_the_spread(results):
    results["entries"]["sdae"] = entry("sdae", {"accuracy": 0.873}, {"accuracy": 0.873}, {"accuracy": 0.881})
    results["entries"]["sae"] = entry("sae", {"accuracy": 0.872}, {"accuracy": 0.874}, {"accuracy": 0.880})
    verdict, text = cards.check(results, (("accuracy",), "higher", [["sdae"], ["sae"]], "SDAE"))
    assert verdict == "within the seeds' spread" and "**within the seeds' spread**" in text
    results["entries"]["sae"] = entry("sae", {"accuracy": 0.80}, {"accuracy": 0.81}, {"accuracy": 0.82})
    assert cards.check(results, (("accuracy",), "higher", [["sdae"], ["sae"]], "SDAE"))[0] == "reproduced"


def test_a_disagreement_is_reported_with_the_measured_numbers(results):
    verdict, text = cards.check(results, (("fid",), "lower", [["gan", "dcgan", "lsgan"], ["vae"]], "FD source"))
    assert verdict == "disagrees" and "**disagrees**" in text
    assert "gan 50" in text and "dcgan 40" in text and "vae 48" in text and "lower is better" in text


def test_a_missing_run_is_not_measured_and_the_first_present_key_counts(results):
    verdict, text = cards.check(results, (("nll_binary_nats", "nll_nats"), "lower", [["pixelcnn"], ["vae"]], "NLL"))
    assert verdict == "not measured" and "pixelcnn" in text
    results["entries"]["pixelcnn"] = entry("pixelcnn", {"nll_nats": 80.0})
    verdict, text = cards.check(results, (("nll_binary_nats", "nll_nats"), "lower", [["pixelcnn"], ["vae"]], "NLL"))
    assert verdict == "reproduced" and "vae 90" in text  # the VAE's binarised NLL, not its grey-level one


def test_floors_name_the_runs_that_fail_with_their_numbers(results):
    lines = "\n".join(cards.floors(results))
    assert "**fails** for 1 of 4: dcgan 0.8 (limit 0.9)" in lines
    assert "dcgan 0 (limit 0)" in lines
    assert "bits_per_dim_independent): holds for all: vae 0.17" in lines


def test_every_published_ordering_is_checked_in_the_index(results, tmp_path):
    text = cards.index(results)
    section = text.split("## Published orderings")[1].split("## Floors")[0]
    assert section.count("\n- ") == len(cards.ORDERINGS)
    verdicts = ("**disagrees**", "**reproduced**", "**within the seeds' spread**", "not measured")
    assert sum(section.count(v) for v in verdicts) == len(cards.ORDERINGS)
    assert "| vae | vae | paper  | reduced budget (0.01 of the paper's steps)" in text


def test_a_card_shows_recipe_sources_budget_and_the_headline_history(results):
    template = string.Template((ROOT / "docs" / "models" / "card.md.tmpl").read_text())
    text = cards.card("vae", results["entries"]["vae"], template)
    assert "reduced budget (0.01 of the paper's steps)" in text and "CPU" in text
    assert "| trainer.epochs | 10 | paper, section 4 |" in text
    assert "| 10% | 1 | 10 | 1 | 400 |" in text and "| 100% | 10 | 100 | 10 | 300 |" in text
    assert "had not converged" in text and "$" not in text.replace("$$", "")


def test_the_size_line_is_read_for_one_epoch_and_for_several():
    import model_cards

    one = model_cards.size_of("gp: 902 steps per epoch x 1 epoch = 902 steps (batch 64, 60000 examples)\n")
    assert one == {"per_epoch": 902, "epochs": 1, "steps": 902, "batch": 64, "examples": 60000}
    assert model_cards.size_of("gp: 4 steps per epoch x 2 epochs = 8 steps (batch 128, 1500 examples)")["epochs"] == 2
    assert model_cards.size_of("gp: run 0123 finished") == {}


def test_seeds_replaces_each_entrys_own_seeds_only_when_given():
    import model_cards

    own = model_cards.entries(model_cards.parse_args(["--only", "sae,aae-semi-100"]))
    assert own["sae"][3] == (0,) and own["aae-semi-100"][3] == (0, 1, 2)
    three = model_cards.entries(model_cards.parse_args(["--only", "sae", "--seeds", "3"]))
    assert three["sae"] == own["sae"][:3] + ((0, 1, 2), own["sae"][4])


@pytest.mark.slow
def test_the_benchmark_runs_end_to_end_in_quick_mode(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in INHERITED_NOT} | {"GP_HOME": str(tmp_path / "home")}
    got = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "model_cards.py"), "--quick", "--only", "vae",
                          "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=900, cwd=ROOT)
    assert got.returncode == 0, got.stdout[-3000:] + got.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    stages = results["entries"]["vae"]["runs"]["0"]["stages"]
    assert len(stages) >= 2 and stages[-1]["fraction"] == 1.0 and "nll_nats" in stages[-1]["metrics"]
    assert (tmp_path / "out" / "vae.md").exists() and "quick smoke run" in (tmp_path / "out" / "vae.md").read_text()
    assert "Published orderings" in (tmp_path / "out" / "README.md").read_text()
