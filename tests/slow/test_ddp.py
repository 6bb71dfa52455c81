"""Two Ray Train workers on CPU keep identical parameters, for a model with one optimizer
and a model with several optimizers updated in turn, with gp's per-update gradient averaging
(the default) and with torch's DDP. (tests/test_sync.py checks the averaged gradients.)"""
import json
import sys

import pytest

pytestmark = pytest.mark.slow


def digest_worker(config):
    """Run gp's loop under Ray and write this rank's parameter digest to a file."""
    import ray.train

    from gp.train.loop import run
    from gp.train.session import RaySession

    summary = run(config, RaySession())
    rank = ray.train.get_context().get_world_rank()
    with open(f"{config['out']}/rank{rank}.json", "w") as fh:
        json.dump(summary, fh)


@pytest.fixture(scope="module")
def local_ray():
    import cloudpickle
    import ray

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


def fit(job: dict, workers: int, out) -> dict:
    """Train ``job`` with ``workers`` Ray Train workers; return the last checkpoint's weights."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from gp.train import checkpoint

    out.mkdir(exist_ok=True)
    job = {**job, "trainer": {**job["trainer"], "num_workers": workers}}
    trainer = TorchTrainer(digest_worker, train_loop_config={"job": job, "out": str(out)},
                           scaling_config=ScalingConfig(num_workers=workers),
                           run_config=RunConfig(name=f"ddp-{workers}", storage_path=str(out / "ray")))
    result = trainer.fit()
    with result.checkpoint.as_directory() as d:
        return checkpoint.load(f"{d}/model.pt")["model"]


@pytest.mark.parametrize("plugin,sync", [("vae", "updates"), ("aae", "updates"), ("aae", "ddp")])
def test_two_workers_end_with_identical_parameters(plugin, sync, local_ray, tmp_path):
    job = {"plugin": plugin, "model": {"hidden": 32}, "data": {"name": "digits", "limit": 512},
           "trainer": {"epochs": 2, "batch_size": 64, "threads": 1, "grad_sync": sync}}
    fit(job, 2, tmp_path)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert ranks[0]["step"] == ranks[1]["step"] == 16  # 512 / 2 ranks / 32 per rank = 8 per epoch, 2 epochs
    assert ranks[0]["digest"] == ranks[1]["digest"]

