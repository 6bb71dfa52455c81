"""Exactly-once metric history: points are committed with checkpoints, so a run that
restarts from its last checkpoint any number of times logs every step once, with the values
of the trajectory that produced its final model (the loop on a local MLflow store, no Ray)."""
import pytest
import torch

from gp import tracking
from gp.train import loop
from gp.train.logger import RunLogger
from gp.train.session import LocalSession

STEPS = 64  # 2 epochs of 32 steps (1,024 examples, batch 32)


class Crash(RuntimeError):
    """A worker that dies mid-run."""


def job(run_id: str | None, **trainer) -> dict:
    trainer = {"epochs": 2, "batch_size": 32, "threads": 1, "log_every": 2, "checkpoint_every_steps": 10, **trainer}
    return {"job": {"plugin": "vae", "model": {"latent_dim": 2, "hidden": 16}, "trainer": trainer,
                    "data": {"name": "digits", "limit": 1024}},
            "run_id": run_id, "tracking_uri": tracking.tracking_uri()}


def new_run() -> str:
    c = tracking.client()
    found = c.get_experiment_by_name("exactly-once")
    return c.create_run(found.experiment_id if found else c.create_experiment("exactly-once")).info.run_id


def crash_at(monkeypatch, call: int) -> None:
    """The attempt's stepper raises on its ``call``-th step."""
    build = loop.build_stepper

    def building(*args):
        return Dying(build(*args), call)

    monkeypatch.setattr(loop, "build_stepper", building)


class Dying:
    """A stepper that dies on its ``at``-th call (other attributes: the stepper's)."""

    def __init__(self, stepper, at: int):
        self.stepper, self.at, self.calls = stepper, at, 0

    def __call__(self, batch):
        self.calls += 1
        if self.calls == self.at:
            raise Crash(f"worker died on call {self.at}")
        return self.stepper(batch)

    def __getattr__(self, name):
        return getattr(self.stepper, name)


def history(run_id: str, key: str = "model/loss") -> list:
    return sorted(tracking.client().get_metric_history(run_id, key), key=lambda m: m.step)


def attempt(run_id: str, crash: int | None, monkeypatch) -> dict | None:
    """One worker group's attempt (it finds the run's last checkpoint itself)."""
    with monkeypatch.context() as m:
        if crash:
            crash_at(m, crash)
        try:
            return loop.run(job(run_id), LocalSession())
        except Crash:
            return None


def test_two_restarts_log_every_step_once_with_the_final_trajectorys_values(monkeypatch):
    straight = new_run()
    done = loop.run(job(straight), LocalSession())
    restarted = new_run()
    assert attempt(restarted, 25, monkeypatch) is None  # the last commit was at step 20: steps 21-24 are redone
    assert attempt(restarted, 47 - 20, monkeypatch) is None  # resumed at 20, dies at 47 (committed 40)
    again = attempt(restarted, None, monkeypatch)
    assert again["step"] == STEPS and again["digest"] == done["digest"]  # the same weights as straight through
    points, reference = history(restarted), history(straight)
    assert [m.step for m in points] == list(range(1, STEPS + 1))  # each step exactly once
    assert torch.allclose(torch.tensor([m.value for m in points]), torch.tensor([m.value for m in reference]))
    assert tracking.client().get_run(restarted).data.tags["gp.committed_step"] == str(STEPS)


def test_a_death_between_the_checkpoint_and_its_points_is_recovered_from_the_checkpoint(monkeypatch):
    run_id = new_run()
    commit = RunLogger.commit

    def upload_then_die(self, path, rows, step):
        if step == 30:  # the checkpoint is in the run; its points and the committed step are not
            self.client.log_artifact(self.run_id, path, artifact_path="checkpoint")
            raise Crash("worker died after the upload")
        commit(self, path, rows, step)

    with monkeypatch.context() as m:
        m.setattr(RunLogger, "commit", upload_then_die)
        with pytest.raises(Crash):
            loop.run(job(run_id), LocalSession())
    assert max(m.step for m in history(run_id)) == 20
    assert loop.run(job(run_id), LocalSession())["step"] == STEPS
    assert [m.step for m in history(run_id)] == list(range(1, STEPS + 1))


def test_a_checkpoint_within_an_epoch_carries_its_place_and_its_points(monkeypatch):
    run_id = new_run()
    assert attempt(run_id, 17, monkeypatch) is None  # commits at steps 10 and 20 would follow; 10 is the last
    payload = torch.load(tracking.client().download_artifacts(run_id, "checkpoint/model.pt"), weights_only=True)
    assert (payload["epoch"], payload["step"], payload["epoch_step"]) == (0, 10, 10)  # 10 steps into epoch 1
    assert [row[0] for row in payload["metrics"]] == list(range(1, 11)) and "model/loss" in payload["metrics"][0][2]
    assert attempt(run_id, None, monkeypatch)["step"] == STEPS


def test_time_based_checkpoints_are_the_default_and_configurable():
    from gp.config import TrainerConfig

    t = TrainerConfig()
    assert t.checkpoint_every_s == 60 and t.checkpoint_every_steps is None


def test_a_stop_asked_by_the_driver_commits_a_checkpoint_where_the_workers_are(monkeypatch):
    from gp.progress import Sink

    run_id, sink = new_run(), Sink()
    sink.stop()  # gp stop / Ctrl-C: the driver's sink says so; rank 0 asks at its next read-back
    stopped = loop.run({**job(run_id), "sink": sink}, LocalSession())
    assert (stopped["status"], stopped["step"]) == ("stopped", 2)  # log_every=2: the first read-back
    assert [m.step for m in history(run_id)] == [1, 2]  # its points are committed with its checkpoint
    straight = loop.run(job(new_run()), LocalSession())
    resumed = loop.run(job(run_id), LocalSession())
    assert resumed["digest"] == straight["digest"]  # nothing was lost or redone differently
    assert [m.step for m in history(run_id)] == list(range(1, STEPS + 1))


def test_a_resumed_run_keeps_its_earlier_failure_aside():
    from gp.orchestrate import finish, reopen

    run_id = new_run()
    finish(run_id, "KILLED", "interrupted; resume with 'gp submit resume=...'")
    reopen(run_id)
    finish(run_id, "FINISHED")
    run = tracking.client().get_run(run_id)
    assert run.info.status == "FINISHED" and "gp.failure" not in run.data.tags
    assert run.data.tags["gp.failure.earlier"].startswith("interrupted")


def test_a_resume_with_more_epochs_continues_in_the_checkpoints_phase():
    """A phased model (greedy pretraining, then fine-tuning) resumed with a longer
    trainer.epochs, which schedules its phases anew: it restores the optimizers of the phase it
    was in (no KeyError) and then follows the new schedule."""
    def sae(epochs: int) -> dict:
        config = job(run_id, epochs=epochs)
        config["job"]["plugin"], config["job"]["model"] = "sae", {"hidden": [16, 8], "pretrain_epochs": 2}
        return config

    run_id = new_run()  # 3 epochs: pretrain-1, pretrain-2, finetune; 5: two of each pretraining, then finetune
    assert loop.run(sae(3), LocalSession())["step"] == 3 * 32
    assert loop.run(sae(5), LocalSession())["step"] == 5 * 32
