"""`gp submit` end to end through Ray Train against the local MLflow store."""
import re

import numpy as np
import pytest

from gp import tracking
from tests.helpers import gp, one_line_error

pytestmark = pytest.mark.slow


def run_of(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return re.search(r"run ([0-9a-f]{32})", proc.stdout).group(1)


def image_steps(c, run_id, key="samples"):
    names = [a.path.split("/")[-1] for a in c.list_artifacts(run_id, "images")]
    return sorted(int(n.split("+")[2]) for n in names if n.startswith(key + "+") and n.endswith(".png"))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One 2-epoch AAE run on digits, shared by the checks below."""
    home = tmp_path_factory.mktemp("e2e") / "gp-home"
    proc = gp("submit", "plugin=aae", "data=digits", "trainer.epochs=2", "model.latent_dim=2", env={"GP_HOME": str(home)})
    return home, run_of(proc), proc


@pytest.fixture
def c(finished, monkeypatch):
    monkeypatch.setenv("GP_HOME", str(finished[0]))
    return tracking.client()


def test_run_has_params_tags_and_status(finished, c):
    run = c.get_run(finished[1])
    assert run.info.status == "FINISHED"
    p, t = run.data.params, run.data.tags
    assert (p["plugin"], p["trainer.epochs"], p["model.latent_dim"], p["data.name"]) == ("aae", "2", "2", "digits")
    assert (t["gp.plugin"], t["gp.plugin.dist"], t["gp.version"]) == ("aae", "gp", "0.1.0")
    assert float(t["gp.seconds_to_first_step"]) > 0
    assert (finished[0] / "ray_results" / t["gp.ray_run"]).is_dir()  # named before the run existed


def test_a_tracking_server_that_is_down_fails_in_one_line_before_ray_starts(tmp_path):
    env = {"GP_HOME": str(tmp_path / "home"), "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
           "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "GP_TRACKING_TIMEOUT": "2"}
    proc = gp("submit", "plugin=vae", "data=digits", "trainer.epochs=1", env=env, timeout=300)
    assert proc.returncode != 0 and "gp: waiting for the tracking server" in proc.stderr
    assert one_line_error(proc).startswith("error: the tracking server at http://127.0.0.1:9 did not answer within 2 s")
    assert not (tmp_path / "home" / "ray_results").exists()  # refused before Ray started


def test_every_step_logged_and_one_image_per_epoch(finished, c):
    steps = [m.step for m in c.get_metric_history(finished[1], "reconstruction/loss")]
    assert steps == list(range(1, 23))  # 1,500 digits / 128 = 11 steps per epoch
    assert image_steps(c, finished[1]) == [0, 1, 2]  # step 0: the untrained model, shown on first open


def test_checkpoint_and_loadable_generator(finished, c):
    import mlflow

    assert [a.path for a in c.list_artifacts(finished[1], "checkpoint")] == ["checkpoint/model.pt"]
    mlflow.set_tracking_uri(tracking.tracking_uri())
    try:
        model = mlflow.pyfunc.load_model(f"runs:/{finished[1]}/model")
        x = model.predict([{"n": 5, "seed": 1}])
    finally:
        mlflow.set_tracking_uri(None)  # it exports MLFLOW_TRACKING_URI, which later gp commands would inherit
    assert np.asarray(x).shape == (5, 1, 8, 8)


def test_gp_sample_and_gp_runs(finished, tmp_path):
    env = {"GP_HOME": str(finished[0])}
    out = tmp_path / "grid.png"
    proc = gp("sample", finished[1], "n=16", "--out", str(out), env=env)
    assert proc.returncode == 0, proc.stderr
    from PIL import Image

    assert Image.open(out).size[0] > 8 * 4
    listing = gp("runs", env=env)
    assert finished[1] in listing.stdout and "FINISHED" in listing.stdout


def test_resume_continues_the_same_run(finished, c):
    env = {"GP_HOME": str(finished[0])}
    proc = gp("submit", f"resume={finished[1]}", "trainer.epochs=3", env=env)
    assert run_of(proc) == finished[1]
    steps = [m.step for m in c.get_metric_history(finished[1], "reconstruction/loss")]
    assert steps == list(range(1, 34))
    assert image_steps(c, finished[1]) == [0, 1, 2, 3]  # no second step 0 on resume
    assert len(c.search_runs([c.get_run(finished[1]).info.experiment_id])) == 1


def test_killed_worker_resumes_from_last_checkpoint_in_the_same_run(tmp_path):
    marker = tmp_path / "crashed"
    # boring on digits, batch 64: 23 steps per epoch; the crash happens in epoch 2
    proc = gp("submit", "plugin=boring", "data=digits", "trainer.epochs=3", "trainer.batch_size=64",
              "model.crash_at_step=30", f"model.crash_marker={marker}")
    run_id = run_of(proc)
    assert marker.exists()
    c = tracking.client()
    steps = sorted({m.step for m in c.get_metric_history(run_id, "model/loss")})
    assert steps == list(range(1, 70))
    assert image_steps(c, run_id) == [0, 1, 2, 3]
    assert c.get_run(run_id).info.status == "FINISHED"
    assert len(c.search_runs([c.get_run(run_id).info.experiment_id])) == 1


def test_nan_loss_fails_the_run_and_keeps_the_last_good_checkpoint():
    proc = gp("submit", "plugin=boring", "data=digits", "trainer.epochs=3", "trainer.batch_size=64",
              "model.nan_at_step=30")
    assert "NaN" in one_line_error(proc)
    c = tracking.client()
    run = c.search_runs([c.get_experiment_by_name("gp").experiment_id])[0]
    assert run.info.status == "FAILED" and "epoch 2" in run.data.tags["gp.failure"]
    assert image_steps(c, run.info.run_id) == [0, 1]
    path = c.download_artifacts(run.info.run_id, "checkpoint/model.pt")
    from gp.train import checkpoint

    assert checkpoint.load(path)["epoch"] == 1
