"""What users hit at the command line (issue 12): `gp sample` formats, labels and scale;
`gp plugins show --all`; the step count `gp submit` prints; a fast `gp runs`."""
import numpy as np
import pytest
import torch

from gp import tracking
from gp.commands import sample_run
from gp.errors import GpError
from gp.model import DataSpec
from tests.helpers import gp, one_line_error

DIGITS = DataSpec((1, 8, 8), 10, "image")


def checkpoint_run(registry, plugin: str, data: DataSpec = DIGITS, **model) -> str:
    """A run whose checkpoint holds a freshly initialised ``plugin`` model (tiny config)."""
    import tempfile

    from gp.train import checkpoint

    cls = registry.model(plugin)
    net = cls(cls.Config.model_validate({**cls.tiny, **model}), data)
    path = checkpoint.save(tempfile.mkdtemp(), checkpoint.state(net, {}, 1, 1))
    c = tracking.client()
    run = c.create_run(tracking.experiment_id(c, "gp"), tags={"gp.plugin": plugin})
    c.log_artifact(run.info.run_id, path, artifact_path="checkpoint")
    return run.info.run_id


@pytest.fixture(scope="module")
def store(tmp_path_factory, registry):
    """One store with runs of a conditional (cvae), an unconditional (vae) and an
    unsupervised AAE (its class is label-capable, this instance is not), and a toy2d run."""
    home = tmp_path_factory.mktemp("ux") / "gp-home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GP_HOME", str(home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        runs = {name: checkpoint_run(registry, name) for name in ("cvae", "vae", "aae")}
        runs["points"] = checkpoint_run(registry, "vae", DataSpec((2,), 0, "points"))
    return home, runs


@pytest.fixture
def runs(store, monkeypatch):
    monkeypatch.setenv("GP_HOME", str(store[0]))
    return store[1]


def test_sample_writes_raw_samples_as_npy_and_pt(runs, tmp_path):
    msg = sample_run(runs["vae"], ["n=5", "seed=1"], str(tmp_path / "x.npy"))
    x = np.load(tmp_path / "x.npy")
    assert x.shape == (5, 1, 8, 8) and x.dtype == np.float32 and "shape (5, 1, 8, 8)" in msg
    sample_run(runs["vae"], ["n=5", "seed=1"], str(tmp_path / "x.pt"))
    t = torch.load(tmp_path / "x.pt", weights_only=True)
    assert torch.equal(t, torch.from_numpy(x))  # same seed, same samples, either format


def test_sample_png_of_tiny_images_is_enlarged_by_default_or_by_scale(runs, tmp_path):
    from PIL import Image

    sample_run(runs["vae"], ["n=64"], str(tmp_path / "auto.png"))
    sample_run(runs["vae"], ["n=64"], str(tmp_path / "x1.png"), scale=1)
    sample_run(runs["vae"], ["n=64"], str(tmp_path / "x3.png"), scale=3)
    one = np.asarray(Image.open(tmp_path / "x1.png"))
    assert one.shape[:2] == (73, 73)  # 8 x 8 digits with 1-pixel gaps
    assert Image.open(tmp_path / "auto.png").size == (292, 292)  # x4: the smallest factor reaching 256 px
    three = np.asarray(Image.open(tmp_path / "x3.png"))
    assert np.array_equal(three, one.repeat(3, 0).repeat(3, 1))  # nearest neighbour: pixels become blocks


def test_sample_given_labels_from_a_conditional_model(runs, tmp_path):
    from gp.commands import _checkpoint_model

    model = _checkpoint_model(runs["cvae"])
    for spec, labels in [("3", [3, 3, 3, 3, 3]), ("0,1,2", [0, 1, 2, 0, 1])]:
        sample_run(runs["cvae"], ["n=5", f"y={spec}"], str(tmp_path / "y.pt"))
        torch.manual_seed(0)
        expected = model.sample(5, torch.tensor(labels))
        assert torch.equal(torch.load(tmp_path / "y.pt", weights_only=True), expected), spec
    sample_run(runs["cvae"], ["n=5"], str(tmp_path / "free.pt"))
    assert not torch.equal(torch.load(tmp_path / "free.pt", weights_only=True), expected)  # labels change samples


def test_labels_out_of_range_or_for_a_model_that_ignores_them_are_one_line(runs, tmp_path):
    with pytest.raises(GpError, match="label y=10 is out of range: this model's classes are 0..9"):
        sample_run(runs["cvae"], ["y=1,10"], str(tmp_path / "x.png"))
    with pytest.raises(GpError, match="bad value for 'y'"):
        sample_run(runs["cvae"], ["y=three"], str(tmp_path / "x.png"))
    with pytest.raises(GpError, match="aae model is not conditional"):  # the class can be; this instance is not
        sample_run(runs["aae"], ["y=1"], str(tmp_path / "x.png"))


def test_gp_sample_cli_scale_option_and_one_line_errors(store, tmp_path):
    env = {"GP_HOME": str(store[0])}
    proc = gp("sample", store[1]["vae"], "n=4", "--out", str(tmp_path / "x.png"), "--scale", "2", env=env, plugins=False)
    assert proc.returncode == 0, proc.stderr
    assert "picture" in proc.stdout and (tmp_path / "x.png").exists()
    line = one_line_error(gp("sample", store[1]["vae"], "--out", str(tmp_path / "x.gif"), env=env, plugins=False))
    assert "cannot write '.gif' files" in line
    assert "unknown option 'sed'" in one_line_error(gp("sample", store[1]["vae"], "sed=1", env=env, plugins=False))


def test_sample_points_png_is_a_scatter_at_natural_size(runs, tmp_path):
    from PIL import Image

    sample_run(runs["points"], ["n=50"], str(tmp_path / "p.png"))
    assert Image.open(tmp_path / "p.png").size == (320, 320)


@pytest.mark.parametrize("options, out, scale, message", [
    (["y=3"], "x.png", None, "is not conditional"),
    (["m=3"], "x.png", None, "unknown option 'm'"),
    (["n=0"], "x.png", None, "n must be at least 1"),
    (["n=ten"], "x.png", None, "bad value for 'n'"),
    (["n"], "x.png", None, "is not key=value"),
    ([], "x.jpg", None, "cannot write '.jpg' files; use .png"),
    ([], "x", None, "cannot write 'no extension' files"),
    ([], "x.npy", 2, "drop --scale"),
    ([], "x.png", 0, "--scale must be at least 1"),
    ([], "missing/x.png", None, "does not exist; create it first"),
])
def test_bad_sample_input_is_one_clear_error(runs, tmp_path, options, out, scale, message):
    with pytest.raises(GpError, match=message):
        sample_run(runs["vae"], options, str(tmp_path / out), scale)


def make_runs(c, experiment: str, count: int) -> list[str]:
    """``count`` runs with gp's params, tags and metrics (a NaN, a non-loss metric, a
    run without tags); the middle one deleted."""
    import math

    from mlflow.entities import Metric, Param

    eid = tracking.experiment_id(c, experiment)
    ids = []
    for i in range(count):
        run = c.create_run(eid, start_time=1_000 + i // 2, tags={"gp.plugin": f"p{i}"} if i % 3 else {})
        metrics = [Metric("model/loss", v, 5, s) for s, v in enumerate([3.0, 2.0 - i, 1.5])]
        metrics += [Metric("d/loss", math.nan, 7, 1), Metric("eval/fid", 9.0, 7, 1)]
        c.log_batch(run.info.run_id, metrics=metrics, params=[Param("data.name", "digits"), Param("trainer.epochs", str(i))])
        ids.append(run.info.run_id)
    c.set_terminated(ids[0], "FAILED")
    c.delete_run(ids[count // 2])
    return ids


def comparable(records):
    """NaN equals NaN, for comparing records."""
    return repr(records)


def test_gp_runs_reads_the_local_store_directly_with_the_same_answer_as_mlflow():
    from gp.commands import _client_runs, _recent_runs

    c = tracking.client()
    ids = make_runs(c, "gp", 7)
    make_runs(c, "other", 2)
    for limit in (3, 20):
        fast, slow = _recent_runs("gp", limit), _client_runs("gp", limit)
        assert comparable(fast) == comparable(slow) and len(fast) == min(limit, 6)
    assert ids[7 // 2] not in {r["id"] for r in fast}  # deleted runs are not listed
    assert _recent_runs("nope", 5) is None and _client_runs("nope", 5) is None


def test_gp_runs_answers_without_importing_mlflow_or_creating_a_store(gp_home, tmp_path):
    import subprocess
    import sys

    code = ("import sys; from gp.commands import runs_table; print(runs_table('gp', 20)); "
            "print('mlflow imported' if 'mlflow' in sys.modules else 'no mlflow')")
    make_runs(tracking.client(), "gp", 2)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"GP_HOME": str(gp_home)})
    assert out.stdout.count("digits") == 1 and "no mlflow" in out.stdout, out.stderr  # one run deleted
    fresh = tmp_path / "fresh"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"GP_HOME": str(fresh)})
    assert "no runs yet" in out.stdout and "no mlflow" in out.stdout and not (fresh / "mlflow.db").exists()


def test_gp_runs_against_a_tracking_server_goes_through_mlflow(monkeypatch):
    from gp import commands

    asked = []
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setattr(commands, "_client_runs", lambda *a: asked.append(a) or [])
    assert commands._recent_runs("gp", 4) == [] and asked == [("gp", 4)]


@pytest.mark.parametrize("overrides, line", [
    (["plugin=vae", "trainer.batch_size=100", "trainer.epochs=3"],
     "gp: 15 steps per epoch x 3 epochs = 45 steps (batch 100, 1500 examples)"),
    (["plugin=gan", "model.k=2", "trainer.batch_size=100"],  # two batches a step: one fresh for the 2nd critic update
     "gp: 7 steps per epoch x 5 epochs = 35 steps (batch 100, 1500 examples)"),
    (["plugin=vae", "trainer.steps_per_epoch=4", "trainer.num_workers=2", "trainer.epochs=2"],
     "gp: 4 steps per epoch x 2 epochs = 8 steps (batch 128, 1500 examples)"),
])
def test_submit_prints_the_steps_before_training(overrides, line, monkeypatch, capsys):
    from gp import orchestrate
    from gp.job import validate

    monkeypatch.setattr(orchestrate, "_init_ray", lambda *a: None)
    monkeypatch.setattr(orchestrate, "_open_run", lambda *a: "run")
    job, registry = validate(["data=digits", *overrides], None)
    assert orchestrate._start(job, registry, None, False) == "run"
    assert line in capsys.readouterr().out.splitlines()


def test_quickstart_sizes_match_the_built_in_datasets(registry):
    """The sizing table in docs/quickstart.md, checked on the datasets this machine has."""
    import re

    from gp.data.spec import load
    from gp.job import validate
    from gp.train.step import steps_per_epoch
    from tests.helpers import ROOT

    table = re.findall(r"^\| `([\w-]+)` \| ([\d,]+) \| ([\d,]+) \| (\d+) \|$", (ROOT / "docs/quickstart.md").read_text(), re.M)
    assert {name for name, *_ in table} == {"fashion-mnist", "mnist", "digits", "toy2d"}
    for name, train, test, steps in table:
        assert steps_per_epoch(int(train.replace(",", "")), 128, 1) == int(steps), name
        if name in ("digits", "toy2d"):  # the others need their files
            job, _ = validate(["plugin=vae", f"data={name}"], None)
            sizes = [f"{len(load(registry, job.data, split)):,}" for split in ("train", "test")]
            assert sizes == [train, test], name


def test_plugins_show_all_lists_trainer_and_data_keys_with_readable_types():
    out = gp("plugins", "show", "vae", "--all", plugins=False)
    assert out.returncode == 0, out.stderr
    keys = out.stdout.split("\nrecipe=")[0]  # the recipes' own tables follow the keys
    rows = {line.split()[0]: line.split()[1:] for line in keys.splitlines() if line.startswith(("model.", "trainer.", "data."))}
    assert rows["trainer.precision"][:2] == ["fp32|bf16", "fp32"]
    assert rows["trainer.cuda_graph"][:2] == ["bool|auto", "auto"]
    assert rows["trainer.threads"][:2] == ["int|None", "None"]
    assert rows["trainer.batch_size"][:2] == ["int", "128"] and "data.limit" in rows and "model.latent_dim" in rows
    plain = gp("plugins", "show", "vae", plugins=False).stdout.split("\nrecipe=")[0]
    assert "trainer.epochs" not in plain and "model.latent_dim" in plain  # model.* keys only without --all


def test_config_rows_read_any_pydantic_model_and_per_dataset_keys():
    import types
    from typing import Literal, Optional

    import pydantic

    from gp import fields
    from gp.commands import table

    class Inner(pydantic.BaseModel):
        depth: pydantic.PositiveInt = pydantic.Field(3, description="[levels] deep")

    class Outer(pydantic.BaseModel):
        mode: Literal["a", "b"] | None = None
        old: Optional[float] = 1.5
        inner: Inner = pydantic.Field(default_factory=Inner)
        must: str

    assert fields.rows(Outer, "x.") == [["x.mode", "a|b|None", None, ""], ["x.old", "float|None", 1.5, ""],
                                        ["x.inner.depth", "int", 3, "[levels] deep"], ["x.must", "str", "(required)", ""]]
    assert "[levels] deep" in table(["k", "t", "d", "desc"], fields.rows(Outer))  # brackets are text, not markup
    registry = types.SimpleNamespace(datasets={"b": 0, "a": 0, "c": 0},
                                     dataset_options=lambda name: Inner if name != "c" else pydantic.BaseModel)
    assert fields.dataset_rows(registry) == [["data.depth", "int", "3", "a, b: [levels] deep"]]
    assert fields.dataset_rows(types.SimpleNamespace(datasets={"a": 0})) == []  # no per-dataset options at all
