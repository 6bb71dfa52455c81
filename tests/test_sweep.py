"""gp sweep's search spaces and its one-line errors before anything starts (no Ray here)."""
import pytest

from gp.errors import GpError
from gp.sweep import space as S
from gp.sweep.run import Options, make_plan
from gp.sweep.trial import with_params
from tests.helpers import gp, one_line_error


def test_override_distributions_become_tune_domains():
    sp = S.split(["plugin=dcgan", "model.lr=loguniform(1e-5,1e-3)", "model.beta1=choice(0.0,0.5)",
                  "trainer.batch_size=grid(32,64)", "model.latent_dim=randint(2,9)", "x=uniform(0,1)"])
    assert sp.fixed == ["plugin=dcgan"]
    assert sp.searched["model.lr"] == S.Dist("loguniform", (1e-5, 1e-3))
    assert sp.searched["model.beta1"] == S.Dist("choice", (0.0, 0.5))
    assert sp.searched["model.latent_dim"].extremes() == [2, 8]  # high excluded, as in Ray Tune
    assert sp.grid_size == 2
    tune = sp.to_tune()
    assert tune["trainer.batch_size"] == {"grid_search": [32, 64]}
    assert (tune["model.lr"].lower, tune["model.lr"].upper) == (1e-5, 1e-3)
    assert tune["model.beta1"].categories == [0.0, 0.5]


def test_choice_takes_strings_and_booleans():
    assert S.parse_value("k", "choice(adam, 'sgd', true)").args == ("adam", "sgd", True)
    assert S.parse_value("k", "0.001") is None
    assert S.parse_value("k", 3) is None


def test_yaml_distributions_in_both_forms(tmp_path):
    f = tmp_path / "sweep.yaml"
    f.write_text("plugin: vae\nmodel:\n  lr: loguniform(1e-4,1e-2)\n  latent_dim: {choice: [2, 4]}\n"
                 "trainer: {epochs: 3}\n")
    sp = S.split(["model.lr=uniform(0.1,0.2)"], str(f))
    assert sp.searched["model.lr"] == S.Dist("uniform", (0.1, 0.2))  # the command line wins
    assert sp.searched["model.latent_dim"] == S.Dist("choice", (2, 4))
    assert sp.fixed_yaml == {"plugin": "vae", "model": {}, "trainer": {"epochs": 3}}


@pytest.mark.parametrize("value, message", [
    ("lognormal(1,2)", "unknown distribution 'lognormal'"),
    ("uniform(1)", "uniform takes two numbers, low < high"),
    ("uniform(2,1)", "uniform takes two numbers, low < high"),
    ("loguniform(0,1)", "loguniform needs low > 0"),
    ("randint(1.5,3)", "randint takes two integers"),
    ("choice()", "choice() needs at least one value"),
])
def test_bad_distributions_are_one_line(value, message):
    with pytest.raises(GpError, match=message.replace("(", r"\(").replace(")", r"\)")):
        S.split([f"model.lr={value}"])


def test_grid_larger_than_trials_and_samples_per_point():
    sp = S.split(["a=grid(1,2,3)", "b=grid(1,2)"])
    with pytest.raises(GpError, match="the grid has 6 points but --trials is 4"):
        S.check_trials(sp, 4)
    assert S.check_trials(sp, 12) == 2


def test_mode_scheduler_and_nothing_to_search():
    with pytest.raises(GpError, match="--mode must be min or max"):
        S.check_mode("maximum")
    with pytest.raises(GpError, match="unknown scheduler 'hyperband'"):
        S.check_scheduler("hyperband")
    with pytest.raises(GpError, match="nothing to search"):
        S.split(["plugin=vae"])


def test_with_params_sets_dotted_keys_on_a_copy():
    raw = {"plugin": "vae", "model": {"lr": 1}}
    assert with_params(raw, {"model.lr": 2, "trainer.epochs": 3}) == {"plugin": "vae", "model": {"lr": 2},
                                                                       "trainer": {"epochs": 3}}
    assert raw["model"]["lr"] == 1


BASE = ["plugin=vae", "data=digits", "trainer.epochs=2"]


def plan(*extra, **opts):
    return make_plan([*BASE, *extra], None, Options(**{"trials": 4, "metric": "model/loss", **opts}))


def test_a_plan_knows_the_losses_and_canonical_eval_names():
    p, _ = plan("model.lr=loguniform(1e-4,1e-2)")
    assert (p.objective, p.samples, p.trials, p.epochs, p.eval) == ("model/loss", 4, 4, 2, None)
    p, _ = plan("model.lr=grid(1e-3,1e-2)", metric="eval/fd", mode="min")
    assert (p.objective, p.samples, p.eval) == ("eval/fid", 2, ("fid", 2000))


@pytest.mark.parametrize("args, opts, message", [
    (["model.lrr=loguniform(1e-4,1e-2)"], {}, "unknown key 'model.lrr'"),
    (["model.lr=choice(0.001,-1)"], {}, "bad value for 'model.lr'"),
    (["model.lr=choice(0.001)"], {"metric": "model/los"}, "--metric model/los: plugin vae never logs it; it logs model/loss"),
    (["model.lr=choice(0.001)"], {"metric": "eval/bpd"}, "eval/bpd cannot be scored at each epoch end"),
    (["model.lr=choice(0.001)"], {"mode": "up"}, "--mode must be min or max"),
    (["model.lr=grid(1,2,3,4,5)"], {}, "the grid has 5 points but --trials is 4"),
    (["plugin=choice(vae,gan)"], {}, "plugin cannot be searched"),
])
def test_bad_sweeps_fail_in_one_line_before_anything_starts(args, opts, message):
    with pytest.raises(GpError, match=message.replace("(", r"\(")):
        plan(*args, **opts)


def test_the_command_line_error_is_one_line_without_ray(gp_home):
    proc = gp("sweep", *BASE, "model.lr=lognormal(1,2)", "--metric", "model/loss", env={"GP_HOME": str(gp_home)})
    assert one_line_error(proc) == ("error: model.lr: unknown distribution 'lognormal'; use one of "
                                    "choice, grid, loguniform, randint, uniform (example: model.lr=choice(1,2))")
    assert not (gp_home / "ray_results").exists()


def test_epoch_eval_scores_the_live_model_with_gp_evals_metrics(registry):
    """eval/* at an epoch end: gp eval's FD and mode metrics on points (no classifier needed),
    the same value twice for the same weights, and training's RNG left where it was."""
    import pickle

    import torch

    from gp.config import DataConfig
    from gp.data.spec import load
    from gp.sweep.epoch_eval import EpochEval

    data = {"name": "toy2d", "kind": "ring"}
    cls = registry.model("gan")
    model = cls(cls.Config(), load(registry, DataConfig(**data), "train").spec)
    fd, modes = EpochEval("fid", data, n=500), EpochEval("modes", data, n=500)
    torch.manual_seed(7)
    state = torch.random.get_rng_state()
    first = fd(model)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert first == fd(model) and first["eval/fid"] > first["eval/fid_floor"] >= 0
    assert 0 <= modes(model)["eval/modes_captured"] <= 8
    assert len(pickle.dumps(fd)) < 500  # only its settings travel to the workers


def test_the_sweep_guide_examples_are_valid_sweeps(tmp_path):
    """docs/sweeps.md: its command lines and its YAML space pass every check a sweep makes."""
    import re
    import shlex

    from tests.helpers import ROOT

    text = (ROOT / "docs/sweeps.md").read_text()
    commands = [shlex.split(c.replace("\\\n", " ")) for c in re.findall(r"^    (gp sweep (?:[^\n\\]|\\\n)*)", text, re.M)]
    commands = [c for c in commands if not any(a.startswith("resume=") for a in c)]
    assert len(commands) >= 1
    for argv in commands:
        opts = {a.lstrip("-").replace("-", "_"): b for a, b in zip(argv, argv[1:]) if a.startswith("--")}
        keys = [a for a in argv[2:] if "=" in a]
        p, _ = make_plan(keys, None, Options(trials=int(opts["trials"]), metric=opts["metric"], mode=opts.get("mode", "min")))
        assert p.trials == int(opts["trials"])
    yaml = tmp_path / "sweep.yaml"
    yaml.write_text(re.findall(r"```yaml\n(.*?)```", text, re.S)[0])
    p, _ = make_plan([], str(yaml), Options(trials=4, metric="generator/loss"))
    assert set(p.space) == {"model.lr", "model.beta1"}
