"""A new run logs the untrained model's pictures at step 0 (MLflow's image slider opens
there); a run resumed from a checkpoint does not, and the pictures leave training unchanged."""
import torch

from gp import tracking
from gp.train import checkpoint
from gp.train.loop import run
from gp.train.session import LocalSession


def job(epochs: int) -> dict:
    return {"plugin": "aae", "model": {"latent_dim": 2, "hidden": 16},
            "data": {"name": "digits", "limit": 256},
            "trainer": {"epochs": epochs, "batch_size": 64, "threads": 1}}


def new_run() -> str:
    c = tracking.client()
    return c.create_run(tracking.experiment_id(c, "gp")).info.run_id


def image_steps(run_id: str) -> dict[str, list[int]]:
    """{key: sorted steps} of the run's full-size step images."""
    steps: dict[str, list[int]] = {}
    for a in tracking.client().list_artifacts(run_id, "images"):
        name = a.path.split("/")[-1]
        if name.endswith(".png"):
            key, _, step = name.split("+")[:3]
            steps.setdefault(key, []).append(int(step))
    return {k: sorted(v) for k, v in steps.items()}


def train(run_id: str | None, epochs: int, session: LocalSession) -> dict:
    config = {"job": job(epochs), "run_id": run_id, "tracking_uri": tracking.tracking_uri()}
    return run(config, session)


def test_a_new_run_logs_pictures_at_step_0_and_a_resumed_run_does_not():
    run_id, first = new_run(), LocalSession()
    train(run_id, 1, first)
    logged = image_steps(run_id)
    assert logged["samples"] == [0, 1]
    assert logged["codes_vs_prior"] == [0, 1]  # the model's own figures too
    train(run_id, 2, LocalSession(resume_from=first.checkpoints[-1]))
    assert image_steps(run_id) == {"samples": [0, 1, 2], "codes_vs_prior": [0, 1, 2]}


def test_the_step_0_pictures_leave_training_unchanged():
    logged, bare = LocalSession(), LocalSession()
    train(new_run(), 1, logged)  # draws step-0 samples before the first step
    train(None, 1, bare)  # logs nothing, so draws no step-0 samples
    a, b = (checkpoint.load(s.checkpoints[-1])["model"] for s in (logged, bare))
    assert all(torch.equal(a[k], b[k]) for k in a)
