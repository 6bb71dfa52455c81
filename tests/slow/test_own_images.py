"""`gp submit` on a folder of the user's own images (generated here): dcgan on 32x32 RGB,
through Ray Train, with the decoded folder cached for the next run."""
import re

import numpy as np
import pytest

from gp import tracking
from tests.data.folders import populate
from tests.helpers import gp, one_line_error

pytestmark = pytest.mark.slow

TINY = ["model.latent_dim=8", "model.g_width=8", "model.d_width=8"]


def test_dcgan_trains_on_a_generated_rgb_folder_and_the_second_run_reads_the_cache(tmp_path, monkeypatch):
    home, root = tmp_path / "gp-home", tmp_path / "photos"
    populate(root, {"day": 150, "night": 150})
    env = {"GP_HOME": str(home)}
    args = ["submit", "plugin=dcgan", "data=imagefolder", f"data.root={root}", "trainer.epochs=1",
            "trainer.batch_size=32", "trainer.steps_per_epoch=3", *TINY]
    first = gp(*args, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "270 examples" in first.stdout  # 300 images, 30 held out
    cache = list((home / "cache" / "imagefolder").glob("*.npz"))
    assert len(cache) == 1
    stamp = cache[0].stat().st_mtime_ns
    second = gp(*args, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert cache[0].stat().st_mtime_ns == stamp  # read, not written again
    monkeypatch.setenv("GP_HOME", str(home))
    run_id = re.search(r"run ([0-9a-f]{32})", second.stdout).group(1)
    params = tracking.client().get_run(run_id).data.params
    assert (params["data.name"], params["data.size"], params["data.channels"]) == ("imagefolder", "32", "3")
    assert "data.kind" not in params
    out = tmp_path / "x.npy"
    assert gp("sample", run_id, "n=4", "--out", str(out), env=env).returncode == 0
    assert np.load(out).shape == (4, 3, 32, 32)


def test_a_folder_without_images_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = gp("submit", "plugin=dcgan", "data=imagefolder", f"data.root={tmp_path / 'empty'}", *TINY,
              env={"GP_HOME": str(tmp_path / "home")})
    assert one_line_error(proc).startswith("error: dataset imagefolder: no PNG, JPEG or WebP images under ")


def test_pixelcnn_trains_on_a_generated_rgb_folder_with_colour_masks_and_256_way_outputs(tmp_path, monkeypatch):
    home, root = tmp_path / "gp-home", tmp_path / "photos"
    populate(root, {"day": 60, "night": 60})
    env = {"GP_HOME": str(home)}
    proc = gp("submit", "plugin=pixelcnn", "data=imagefolder", f"data.root={root}", "data.size=16",
              "model.hidden=12", "model.layers=2", "trainer.epochs=1", "trainer.batch_size=16",
              "trainer.steps_per_epoch=3", "trainer.samples=2", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    monkeypatch.setenv("GP_HOME", str(home))
    run_id = re.search(r"run ([0-9a-f]{32})", proc.stdout).group(1)
    run = tracking.client().get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.params["model.output"] == "softmax"
    bpd = run.data.metrics["model/bits_per_dim"]
    assert 0 < bpd < 9  # a 256-way softmax per sub-pixel starts near log2(256) = 8 bits
    out = tmp_path / "x.npy"
    assert gp("sample", run_id, "n=2", "--out", str(out), env=env).returncode == 0
    drawn = np.load(out)
    assert drawn.shape == (2, 3, 16, 16) and len(np.unique(drawn)) > 2  # 8-bit colour levels, not binary
