"""Two Ray Train workers on CPU keep identical parameters (DDP), for a model with one
optimizer and a model with several optimizers updated in turn."""
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


@pytest.mark.parametrize("plugin", ["vae", "aae"])
def test_two_workers_end_with_identical_parameters(plugin, local_ray, tmp_path):
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    job = {"plugin": plugin, "model": {"hidden": 32}, "data": {"name": "digits", "limit": 512},
           "trainer": {"epochs": 2, "batch_size": 64, "num_workers": 2, "threads": 1}}
    trainer = TorchTrainer(digest_worker, train_loop_config={"job": job, "out": str(tmp_path)},
                           scaling_config=ScalingConfig(num_workers=2),
                           run_config=RunConfig(name=f"ddp-{plugin}", storage_path=str(tmp_path / "ray")))
    trainer.fit()
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert ranks[0]["step"] == ranks[1]["step"] == 16  # 512 / 2 ranks / 32 per rank = 8 per epoch, 2 epochs
    assert ranks[0]["digest"] == ranks[1]["digest"]
