"""uint8 images stay uint8 in memory and become floats in [0, 1] per batch: the loop, the
pre-flight check, the held-out figures and gp eval's splits all see floats; a worker that
cannot load the data names its node."""
import dataclasses
import socket

import numpy as np
import pytest
import torch

from gp.config import DataConfig, check_data_options
from gp.data.spec import Dataset, as_float
from gp.errors import GpError
from gp.model import DataSpec
from gp.train import checkpoint
from gp.train import loop as L
from gp.train.session import LocalSession
from gp.train.step import batches
from tests.data.folders import populate


def bytes_data(n=64, shape=(1, 8, 8)) -> Dataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, *shape), generator=g, dtype=torch.uint8)
    y = torch.arange(n) % 4
    y[n // 2:] = -1
    return Dataset(x, y, DataSpec(shape, 4, "image"))


def test_as_float_divides_uint8_by_255_and_leaves_floats_alone():
    x = torch.arange(256, dtype=torch.uint8)
    idx_float = torch.from_numpy(x.numpy().astype(np.float32) / 255.0)  # how the IDX datasets make floats
    assert as_float(x).dtype == torch.float32 and torch.equal(as_float(x), idx_float) and as_float(x)[-1] == 1
    f = torch.rand(3)
    assert as_float(f) is f
    data = bytes_data()
    assert torch.equal(data.as_float().x, data.x.float() / 255) and data.x.dtype == torch.uint8


@pytest.mark.parametrize("sources", [("step",), ("step", "fresh"), ("labelled", "step")])
def test_batches_of_uint8_images_are_the_float_batches(sources):
    data = bytes_data()
    floats = data.as_float()
    for a, b in zip(batches(data, 0, 1, 8, 0, 0, None, sources), batches(floats, 0, 1, 8, 0, 0, None, sources)):
        for part_a, part_b in ([(a, b)] if "x" in a else [(a[k], b[k]) for k in a]):
            assert part_a["x"].dtype == torch.float32 and torch.equal(part_a["x"], part_b["x"])
            assert torch.equal(part_a["y"], part_b["y"])


def test_the_preflight_check_feeds_the_plugin_floats(registry):
    from gp.contract import preflight

    cls = registry.model("vae")
    preflight(cls, cls.Config(hidden=8, latent_dim=2), bytes_data())  # a uint8 batch would fail in its Linear


def test_a_sweeps_loss_names_come_from_float_batches(registry):
    from gp.sweep.objective import loss_names

    cls = registry.model("vae")
    assert "model/loss" in loss_names(cls, cls.Config(hidden=8, latent_dim=2), bytes_data(), 1)


def job(root, plugin="vae", **model):
    return {"job": {"plugin": plugin, "model": {"hidden": 16, "latent_dim": 2, **model},
                    "data": {"name": "imagefolder", "root": str(root), "size": 8, "channels": 1},
                    "trainer": {"epochs": 1, "batch_size": 16, "threads": 1}}}


def test_training_on_uint8_images_equals_training_on_their_floats(registry, tmp_path, monkeypatch):
    populate(tmp_path / "imgs", {"a": 40, "b": 40})
    floats = dataclasses.replace(registry)
    floats.datasets = dict(registry.datasets)
    loader, *rest = registry.datasets["imagefolder"]
    floats.datasets["floatfolder"] = (lambda cfg, split: loader(cfg, split).as_float(), *rest)
    monkeypatch.setattr(L, "load_registry", lambda: floats)
    bytes_run, float_run = LocalSession(), LocalSession()
    assert L.run(job(tmp_path / "imgs"), bytes_run)["status"] == "finished"  # with vae's figures of held-out data
    as_floats = job(tmp_path / "imgs")
    as_floats["job"]["data"]["name"] = "floatfolder"
    L.run(as_floats, float_run)
    a, b = (checkpoint.load(s.checkpoints[-1])["model"] for s in (bytes_run, float_run))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_gp_evals_splits_are_floats(registry, tmp_path):
    from gp.eval.reference import splits

    populate(tmp_path / "imgs", {"a": 10})
    cfg = check_data_options(DataConfig(name="imagefolder", root=str(tmp_path / "imgs")), registry)
    train, test = splits(registry, cfg)
    assert train.x.dtype == test.x.dtype == torch.float32 and 0 <= float(train.x.min()) and float(train.x.max()) <= 1


class OnWorker:
    node = "gpu-7 (10.0.0.7)"


def test_a_worker_that_cannot_load_the_data_names_its_node(registry, tmp_path):
    from gp.config import JobConfig

    job_cfg = JobConfig.model_validate(job(tmp_path / "nowhere")["job"])
    with pytest.raises(GpError, match=r"^on node gpu-7 \(10\.0\.0\.7\): dataset imagefolder: no folder .*nowhere"):
        L._load(registry, job_cfg, "train", OnWorker())
    with pytest.raises(GpError, match=r"^dataset imagefolder: no folder"):  # on the driver's machine: as it was
        L._load(registry, job_cfg, "train", LocalSession())


def test_a_ray_worker_names_itself_by_host_and_ip():
    from gp.train.session import RaySession

    node = RaySession.node.fget(None)
    assert node.startswith(socket.gethostname() + " (") and node.endswith(")") and "." in node
