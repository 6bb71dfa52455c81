"""Where each update's batch comes from (``batch_sources``), and ``data=NAME`` with ``data.*`` keys."""
import pytest
import torch

from gp.config import flatten, parse, validate
from gp.data.spec import Dataset, hide_labels
from gp.errors import GpError
from gp.model import DataSpec
from gp.train.step import Stepper, batches, check_sources, steps_per_epoch


def indexed(n=600, classes=10, labelled=None) -> Dataset:
    """Images whose first pixel is the example's index, so a batch tells which examples it holds."""
    x = torch.rand(n, 1, 8, 8)
    x[:, 0, 0, 0] = torch.arange(n, dtype=torch.float32)
    data = Dataset(x, torch.arange(n) % classes, DataSpec((1, 8, 8), classes, "image"))
    return hide_labels(data, labelled) if labelled else data


def build(registry, name, data, **over):
    cls = registry.model(name)
    return cls(cls.Config.model_validate({**cls.tiny, **over}), data.spec)


def record(model) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Wrap ``model.forward`` to record (update, example indices, labels) of every call."""
    seen, forward = [], model.forward

    def spy(batch, update):
        seen.append((update, batch["x"][:, 0, 0, 0].long(), batch["y"]))
        return forward(batch, update)

    model.forward = spy
    return seen


def train_epoch(model, data, batch_size=32):
    stepper = Stepper(model, model, model.configure_optimizers())
    for batch in batches(data, 0, 1, batch_size, seed=0, epoch=0, sources=model.batch_sources):
        stepper(batch)


def test_k_discriminator_updates_see_k_different_real_batches(registry):
    data, k = indexed(), 3
    model = build(registry, "gan", data, k=k)
    seen = record(model)
    train_epoch(model, data)
    steps = steps_per_epoch(len(data), 32, 1, per_step=k)
    assert steps == 600 // 32 // 3 == 6 and len(seen) == steps * (k + 1)
    real = [idx for update, idx, _ in seen if update == "discriminator"]
    for s in range(steps):
        step = real[s * k : (s + 1) * k]
        assert len(torch.cat(step).unique()) == k * 32  # k disjoint batches of real data in one step
    assert len(torch.cat(real).unique()) == steps * k * 32  # an epoch is one pass: no example twice


def test_the_plain_gan_keeps_one_batch_per_step(registry):
    model = build(registry, "gan", indexed(), k=1)
    assert model.batch_sources == ("step", "step")
    assert steps_per_epoch(600, 32, 1, per_step=1) == 18


@pytest.mark.parametrize("plugin,over,update", [
    ("aae", {"variant": "semi-supervised"}, "classification"),
    ("cvae", {}, "labelled"),
])
def test_a_labelled_update_sees_only_labelled_examples_even_with_100_labels(registry, plugin, over, update):
    data = indexed(n=1500, labelled=100)
    model = build(registry, plugin, data, **over)
    seen = record(model)
    train_epoch(model, data, batch_size=128)
    labelled = [(idx, y) for u, idx, y in seen if u == update]
    assert len(labelled) == 1500 // 128
    assert all(bool((y >= 0).all()) and len(y) == 100 for _, y in labelled)  # all 100 labels, nothing else
    label_of = {int(i): int(c) for i, c in zip(torch.arange(1500), data.y)}
    assert all(label_of[int(i)] == int(c) for idx, y in labelled for i, c in zip(idx, y))
    step = torch.cat([y for u, _, y in seen if u != update])
    assert float((step >= 0).float().mean()) < 0.15  # the step's batches: 100 of 1,500 labelled, as drawn


def test_fully_labelled_cvae_takes_one_update(registry):
    model = build(registry, "cvae", indexed())
    assert model.updates == ("model",) and model.batch_sources == ("step",)


def test_a_labelled_update_without_labels_is_one_line(registry):
    data = indexed(n=100)
    data.y[:] = -1
    with pytest.raises(GpError, match="update 'classification' trains on labelled examples"):
        check_sources(build(registry, "aae", data, variant="semi-supervised"), data)


@pytest.mark.parametrize("overrides", [
    ["plugin=gan", "data=toy2d", "data.kind=ring"],
    ["plugin=gan", "data.kind=ring", "data=toy2d"],
])
def test_data_name_combines_with_data_keys_in_any_order(overrides, registry):
    job, _ = validate(parse(overrides), registry)
    assert (job.data.name, job.data.kind) == ("toy2d", "ring")


def test_data_name_keeps_the_limit_and_yaml_combines(tmp_path, registry):
    job, _ = validate(parse(["plugin=gan", "data=digits", "data.limit=300"]), registry)
    assert (job.data.name, job.data.limit) == ("digits", 300)
    f = tmp_path / "job.yaml"
    f.write_text("plugin: gan\ndata: toy2d\n")
    job, _ = validate(parse(["data.kind=swissroll"], str(f)), registry)
    assert (job.data.name, job.data.kind) == ("toy2d", "swissroll")


@pytest.mark.parametrize("overrides,message", [
    (["plugin=gan", "data.kind=ring"], "dataset fashion-mnist does not take 'data.kind' (its own keys: data.root"),
    (["plugin=gan", "data=digits", "data.root=/x"], "dataset digits does not take 'data.root'"),
    (["plugin=gan", "data=toy2d", "data.knd=ring"], "did you mean data.kind?"),
    (["plugin=gan", "data=toy2d", "data.kind=rng"], "bad value for 'data.kind'"),
])
def test_a_key_the_dataset_does_not_take_is_one_line(overrides, message, registry):
    with pytest.raises(GpError) as err:
        validate(parse(overrides), registry)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_only_the_datasets_own_keys_are_params(registry):
    fashion, _ = validate(parse(["plugin=gan"]), registry)
    toy, _ = validate(parse(["plugin=gan", "data=toy2d"]), registry)
    assert "data.kind" not in flatten(fashion.model_dump()) and "data.root" in flatten(fashion.model_dump())
    assert flatten(toy.model_dump())["data.kind"] == "grid" and "data.root" not in flatten(toy.model_dump())


def test_the_dataset_plugin_of_the_docs_registers_its_options():
    import re
    import types

    from gp.data.spec import load
    from gp.plugins import Origin, _collect, load_registry
    from tests.helpers import ROOT

    text = (ROOT / "docs/datasets.md").read_text()
    namespace: dict = {}
    exec(re.findall(r"```python\n(.*?)```", text, re.S)[0], namespace)
    registry = load_registry()
    _collect(None, types.SimpleNamespace(register_datasets=namespace["register_datasets"]), Origin("docs"), registry)
    job, _ = validate(parse(["plugin=gan", "data=spiral", "data.turns=3"]), registry)
    data = load(registry, job.data, "train")
    assert job.data.turns == 3.0 and data.x.shape == (20_000, 2)
    with pytest.raises(GpError, match="dataset spiral does not take 'data.kind'"):
        validate(parse(["plugin=gan", "data=spiral", "data.kind=ring"]), registry)
    shown = re.search(r"error: (dataset fashion-mnist does not take .*)", text).group(1)
    with pytest.raises(GpError) as err:
        validate(parse(["plugin=gan", "data.kind=ring"]), registry)
    assert str(err.value) == shown


def test_the_driver_refuses_a_labelled_update_without_labels_before_training(registry):
    from gp.contract import preflight

    data = indexed(n=100)
    data.y[:] = -1
    cls = registry.model("aae")
    with pytest.raises(GpError, match="update 'classification' trains on labelled examples"):
        preflight(cls, cls.Config(variant="semi-supervised", **cls.tiny), data)


def test_batch_sources_must_match_the_updates(registry):
    from gp.contract import preflight

    data, cls = indexed(n=100), registry.model("gan")

    class Bad(cls):
        batch_sources = ("step", "sideways")

    with pytest.raises(GpError, match=r"batch_sources must name one of step, fresh, labelled for each of its 2 updates"):
        preflight(Bad, cls.Config(**cls.tiny), data)

