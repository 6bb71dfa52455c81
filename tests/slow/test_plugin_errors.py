"""A plugin's own mistakes end `gp submit` in one line, in seconds, without worker restarts."""
import time

import pytest

from tests.helpers import gp, one_line_error

pytestmark = pytest.mark.slow


def test_forward_without_loss_fails_before_ray_naming_plugin_update_and_rule():
    t0 = time.time()
    proc = gp("submit", "plugin=no-loss", "data=digits", "trainer.epochs=1", "trainer.max_failures=2")
    error = one_line_error(proc)
    assert "plugin 'no-loss': forward must return 'loss' for update 'critic' (it returned keys: d_loss)" in error
    assert "worker failure" not in proc.stdout + proc.stderr
    assert time.time() - t0 < 60  # 79 s with two retries before


def test_an_error_in_plugin_code_during_training_is_not_retried():
    t0 = time.time()
    proc = gp("submit", "plugin=boring", "data=digits", "trainer.epochs=1", "trainer.max_failures=2",
              "model.raise_at_step=3")
    error = one_line_error(proc)
    assert "plugin 'boring': forward for update 'model' raised ValueError: boring fails at step 3 on purpose" in error
    assert "worker failure" not in proc.stdout + proc.stderr
    assert time.time() - t0 < 60
