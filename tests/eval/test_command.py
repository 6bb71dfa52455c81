"""``gp eval`` end to end on small runs: metric plans, tables, MLflow logging, reuse, errors."""
import dataclasses

import pytest
import torch

from gp import tracking
from gp.errors import GpError
from gp.eval import plan
from gp.eval.runner import Options, evaluate, parse_options
from gp.model import DataSpec, GenerativeModel, capabilities
from gp.plugins import Registry, load_registry
from gp.train import checkpoint


def train_run(plugin: str, data: dict, model: dict | None = None, **trainer) -> str:
    """Train a model in-process (no Ray) into a new MLflow run; return the run id."""
    from gp.config import validate
    from gp.train.loop import run
    from gp.train.session import LocalSession

    registry = load_registry()
    raw = {"plugin": plugin, "data": data, "model": model or {}, "trainer": {"epochs": 1, "threads": 1, **trainer}}
    job, model_cfg = validate(raw, registry)
    job.model = model_cfg.model_dump()
    c = tracking.client()
    run_id = tracking.start_run(c, job, registry.origin(plugin))
    run({"job": job.model_dump(), "run_id": run_id, "tracking_uri": tracking.tracking_uri()}, LocalSession())
    c.set_terminated(run_id)
    return run_id


def pixel_features(x):
    """A user feature map: the raw pixels."""
    return x.flatten(1)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("gp-home")


@pytest.fixture(autouse=True)
def gp_home(home, monkeypatch, digits_classifier):
    """One store for the module's tests (runs are trained once), the digits classifier cached."""
    from gp.eval.reference import _save

    monkeypatch.setenv("GP_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    path = home / "classifiers" / f"digits-{digits_classifier['key']}.pt"
    if not path.exists():
        _save(digits_classifier, path)
    return home


@pytest.fixture(scope="module")
def gan_run(home, registry):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GP_HOME", str(home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        return train_run("gan", {"name": "digits"}, registry.model("gan").tiny, batch_size=64)


def test_metrics_follow_capabilities_and_data_kind(registry):
    caps = lambda name: capabilities(registry.model(name))  # noqa: E731
    gan = plan.default_metrics(caps("gan"), "image", False)
    vae = plan.default_metrics(caps("vae"), "image", False)
    assert {"fid", "kid", "cs", "pr", "1nn"} <= set(gan) and not {"nll", "recon", "parzen", "modes"} & set(gan)
    assert {"nll", "recon"} <= set(vae)
    points = plan.default_metrics(caps("gan"), "points", True)
    assert "modes" in points and "cs" not in points
    assert "parzen" in plan.resolve("all", caps("gan"), "image", False)
    assert plan.resolve("is,fd,recall", caps("gan"), "image", False) == ["cs", "fid", "pr"]


def test_impossible_or_unknown_metrics_are_one_line_errors(registry):
    caps = capabilities(registry.model("gan"))
    with pytest.raises(GpError, match="needs log_prob"):
        plan.resolve("nll", caps, "image", False)
    with pytest.raises(GpError, match="did you mean kid"):
        plan.resolve("kidd", caps, "image", False)
    with pytest.raises(GpError, match="unknown option 'metric'"):
        parse_options(["metric=fid"])
    with pytest.raises(GpError, match="bad value for 'n'"):
        parse_options(["n=lots"])


def test_eval_scores_logs_and_reuses(gan_run):
    from gp.eval.command import run_table

    opts = Options(metrics="fid,kid,cs,pr,1nn", n=300, local=True)
    result = evaluate(gan_run, dataclasses.replace(opts, fresh=True))
    m = result.metrics
    for key in ("fid", "fid_floor", "kid", "classifier_score", "precision", "recall_floor", "1nn_accuracy"):
        assert key in m
    assert m["fid"] > m["fid_floor"] and m["1nn_accuracy"] > m["1nn_floor"]  # a 1-epoch tiny GAN is worse than data
    table = run_table(result)
    assert "Fréchet distance" in table and "train" in table and gan_run in table
    c = tracking.client()
    run = c.get_run(gan_run)
    assert run.data.metrics["eval/fid"] == pytest.approx(m["fid"])
    assert run.data.tags["gp.eval.features"].startswith("classifier:")
    images = {a.path for a in c.list_artifacts(gan_run, "images")}
    assert images, "figures were not logged"
    again = evaluate(gan_run, opts)
    assert again.reused and again.metrics["fid"] == pytest.approx(m["fid"])


def test_the_cached_classifier_scores_the_run(gan_run, digits_classifier):
    evaluate(gan_run, Options(metrics="cs", n=100, local=True))
    assert tracking.client().get_run(gan_run).data.tags["gp.eval.features"] == f"classifier:{digits_classifier['hash']}"


def test_reference_classifier_is_trained_cached_registered_and_fetched(registry, tmp_path, monkeypatch):
    import shutil

    from gp.config import DataConfig
    from gp.eval.classifier import ClassifierConfig
    from gp.eval.reference import reference

    monkeypatch.setenv("GP_HOME", str(tmp_path))  # a store of its own
    cheap, digits = ClassifierConfig(epochs=1, min_steps=20), DataConfig(name="digits")
    first = reference(registry, digits, cheap)
    c = tracking.client()
    runs = c.search_runs([c.get_experiment_by_name("gp-classifiers").experiment_id])
    assert len(runs) == 1 and runs[0].data.tags["gp.classifier.hash"] == first["hash"]
    assert runs[0].data.metrics["test_accuracy"] == pytest.approx(first["accuracy"])
    assert reference(registry, digits, cheap)["hash"] == first["hash"]  # from the cache
    shutil.rmtree(tracking.home() / "classifiers")
    assert reference(registry, digits, cheap)["hash"] == first["hash"]  # from MLflow
    assert len(c.search_runs([runs[0].info.experiment_id])) == 1
    other = reference(registry, digits, ClassifierConfig(epochs=1, min_steps=21))
    assert other["hash"] != first["hash"]  # another training config is another version


def test_user_feature_extractor_replaces_the_classifier(gan_run, monkeypatch):
    import gp.eval.reference

    monkeypatch.setattr(gp.eval.reference, "reference", lambda *a, **k: pytest.fail("classifier was loaded"))
    opts = Options(metrics="fid", n=200, local=True, features="tests.eval.test_command:pixel_features")
    result = evaluate(gan_run, opts)
    assert result.metrics["fid"] > result.metrics["fid_floor"] > 0
    assert tracking.client().get_run(gan_run).data.tags["gp.eval.features"] == opts.features
    with pytest.raises(GpError, match="cannot load feature extractor"):
        evaluate(gan_run, Options(metrics="fid", n=50, local=True, features="tests.eval.nowhere:f", fresh=True))


def test_compare_gives_one_table(gan_run, registry):
    from gp.eval.command import run_eval

    other = train_run("vae", {"name": "digits"}, registry.model("vae").tiny, batch_size=64)
    text = run_eval([gan_run, other, "metrics=fid", "n=200"], compare=True, local=True)
    lines = text.splitlines()
    assert any(gan_run[:12] in l and "gan" in l for l in lines) and any(other[:12] in l and "vae" in l for l in lines)
    assert lines[-1].startswith("floor")
    with pytest.raises(GpError, match="--compare"):
        run_eval([gan_run, other], local=True)


def test_vae_gets_likelihood_and_reconstruction(registry):
    run_id = train_run("vae", {"name": "digits"}, registry.model("vae").tiny, batch_size=64)
    m = evaluate(run_id, Options(metrics="nll,recon", n=100, local=True, k=2)).metrics
    assert m["nll_nats"] > 0 and m["bits_per_dim"] == pytest.approx(m["nll_nats"] / (64 * 0.6931471805599453))
    assert m["nll_k"] == 2 and m["nll_exact"] == 0 and 0 < m["recon_mse"] < 1
    assert 0 < m["bits_per_dim_independent"] < 1 and m["nll_binary_nats"] > 0  # binarised digits: under 1 bit
    steps = [h.step for h in tracking.client().get_metric_history(run_id, "eval/nll_nats")]
    assert steps and steps[-1] > 0  # logged at the checkpoint's training step, not step 0


def test_toy_mixture_gets_mode_coverage(registry):
    run_id = train_run("gan", {"name": "toy2d", "kind": "grid", "limit": 2000}, registry.model("gan").tiny,
                       batch_size=200)
    result = evaluate(run_id, Options(n=1000, local=True))
    m = result.metrics
    assert m["modes_total"] == 25 and m["modes_captured_real"] == 25 and m["hq_fraction_real"] > 0.97  # 2-D: 1 - e^-4.5
    assert 0 <= m["modes_captured"] <= 25 and "fid" in m and "cs" not in m
    assert "modes" in result.figures


class ClassMeans(GenerativeModel):
    """A conditional test double: class-mean digit images plus a little noise."""

    name, family, conditional = "class-means", "test", True

    def __init__(self, config, data):
        super().__init__(config, data)
        self.register_buffer("means", torch.zeros(data.num_classes, *data.shape))

    @torch.no_grad()
    def sample(self, n, y=None):
        y = torch.randint(self.data.num_classes, (n,)) if y is None else y
        return (self.means[y] + 0.05 * torch.randn(n, *self.data.shape)).clamp(0, 1)


def test_conditional_models_get_gan_test_and_gan_train(digits):
    train, _ = digits
    model = ClassMeans(ClassMeans.Config(), DataSpec((1, 8, 8), 10, "image"))
    model.means.copy_(torch.stack([train.x[train.y == c].mean(0) for c in range(10)]))
    registry = dataclasses.replace(load_registry())
    registry.models = {**registry.models, "class-means": (ClassMeans, None)}
    c = tracking.client()
    run_id = c.create_run(tracking.experiment_id(c, "gp"), tags={"gp.config": '{"data": {"name": "digits"}}'}).info.run_id
    path = checkpoint.save(str(tracking.home() / "ckpt"), checkpoint.state(model, {}, 1, 0))
    c.log_artifact(run_id, path, artifact_path="checkpoint")
    m = evaluate(run_id, Options(metrics="gan-test,gan-train", n=500, local=True), registry).metrics
    assert m["gan_test"] > 0.9  # class means are recognised as their class
    assert 0.5 < m["gan_train"] <= m["gan_train_real"] + 0.05


def test_missing_run_or_checkpoint_is_a_one_line_error():
    from gp.eval.command import run_eval

    with pytest.raises(GpError, match="not found"):
        run_eval(["0123456789abcdef", "n=10"], local=True)


def test_gp_eval_on_the_command_line(gan_run):
    from tests.helpers import gp, one_line_error

    out = gp("eval", gan_run, "metrics=fid,pr", "n=200", "--local", plugins=False)
    assert out.returncode == 0, out.stderr
    assert "Fréchet distance" in out.stdout and "recall (k=3)" in out.stdout
    assert "unknown option 'size'" in one_line_error(gp("eval", gan_run, "size=3", "--local", plugins=False))


@pytest.mark.slow
def test_ray_tasks_give_the_same_scores_as_in_process(gan_run):
    import ray

    opts, started = Options(metrics="fid,kid,pr", n=1500, log=False), not ray.is_initialized()
    try:
        through_ray = evaluate(gan_run, opts).metrics
    finally:
        if started:  # a Ray of other tests stays up
            ray.shutdown()
    local = evaluate(gan_run, dataclasses.replace(opts, local=True)).metrics
    assert through_ray["fid"] == pytest.approx(local["fid"], rel=1e-4)
    assert through_ray["recall"] == pytest.approx(local["recall"], abs=1e-6)
