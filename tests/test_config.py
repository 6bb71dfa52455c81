"""Configuration: parsing, validation and one-line errors (config checked before Ray starts, data while it starts)."""
import pytest

from gp.config import parse, validate
from gp.errors import GpError
from tests.helpers import gp, one_line_error


def test_overrides_and_yaml_merge(tmp_path, registry):
    f = tmp_path / "job.yaml"
    f.write_text("plugin: vae\ntrainer:\n  epochs: 7\n  batch_size: 32\n")
    job, model = validate(parse(["trainer.epochs=3", "model.latent_dim=4", "data=digits"], str(f)), registry)
    assert (job.plugin, job.trainer.epochs, job.trainer.batch_size, job.data.name) == ("vae", 3, 32, "digits")
    assert model.latent_dim == 4 and model.hidden == 400


@pytest.mark.parametrize("overrides,expected", [
    (["plugin=aaee"], "unknown plugin 'aaee': did you mean aae"),
    (["plugin=aae", "trainer.epoch=3"], "unknown key 'trainer.epoch': did you mean trainer.epochs"),
    (["plugin=aae", "model.latent=3"], "unknown key 'model.latent': did you mean model.latent_dim"),
    (["plugin=aae", "model.latent_dim=abc"], "bad value for 'model.latent_dim'"),
    (["plugin=aae", "trainer.epochs=-1"], "bad value for 'trainer.epochs': Input should be greater than 0"),
    (["plugin=aae", "data=cifar"], "unknown dataset 'cifar'"),
    (["trainer.epochs=1"], "missing required key 'plugin'"),
    (["plugin"], "is not key=value"),
])
def test_bad_input_is_one_clear_error(overrides, expected, registry):
    with pytest.raises(GpError, match=expected.replace("(", r"\(")):
        validate(parse(overrides), registry)


@pytest.mark.parametrize("args,expected", [
    (["plugin=nope"], "unknown plugin 'nope'"),
    (["plugin=aae", "trainer.epochs=-2"], "trainer.epochs"),
    (["plugin=aae", "data.root=/nonexistent"], "not found; install it with 'apt-get install dataset-fashion-mnist'"),
    (["plugin=boring", "model.nan_at_step=x"], "model.nan_at_step"),
    (["plugin=aae", "data.root=TMP/truncated"], "truncated or corrupt"),
    (["plugin=aae", "data=digits", "data.limit=100"], "fewer than trainer.batch_size=128"),
    (["plugin=broken-import"], "plugin 'broken-import' (gp-testplugins 0.1) failed to load: ImportError"),
    (["plugin=aae", "--config", "TMP/missing.yaml"], "cannot parse configuration"),
])
def test_gp_submit_rejects_bad_input_with_one_line_and_nonzero_exit(args, expected, gp_home, tmp_path):
    args = [a.replace("TMP", str(tmp_path)) for a in args]
    if any("truncated" in a for a in args):
        from tests.test_data import fake_mnist

        (tmp_path / "truncated").mkdir()
        fake_mnist(tmp_path / "truncated", truncate=10)
    proc = gp("submit", *args)
    assert proc.returncode == 2
    assert expected in one_line_error(proc)
    assert not (gp_home / "ray_results").exists()  # rejected before training started


def test_unschedulable_workers_are_one_clear_error():
    from gp.config import TrainerConfig
    from gp.orchestrate import check_resources

    with pytest.raises(GpError, match=r"needs 4 CPU\(s\) but the Ray cluster has 2"):
        check_resources(TrainerConfig(num_workers=4), {"CPU": 2.0})
    with pytest.raises(GpError, match="use_gpu=false"):
        check_resources(TrainerConfig(use_gpu=True), {"CPU": 2.0})
    check_resources(TrainerConfig(num_workers=2), {"CPU": 2.0})
