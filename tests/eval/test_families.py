"""``gp eval`` on a trained run of every built-in model: each gets the metric set its family
deserves, with finite values. The expectations are written out by hand here, not derived
from the plan the command uses."""
import math

import pytest

from gp.eval.runner import Options, evaluate
from tests.eval.test_command import gp_home, home, train_run  # noqa: F401 (fixtures: one store, cached classifier)

SAMPLE = {"fid", "fid_floor", "kid", "precision", "recall", "1nn_accuracy", "classifier_score"}
LIKELIHOOD = {"vae", "pixelcnn", "pixelrnn"}  # log_prob: nats and bits/dim
RECONSTRUCTION = {"ae", "aae", "cae", "dae", "linear-ae", "sae", "scae", "sdae", "vae"}  # encode + decode
CONDITIONAL = {"cvae", "pixelcnn", "pixelrnn"}  # GAN-test and GAN-train
CLASSIFY = {"cvae", "sae", "sdae"}  # classify: test accuracy (the AAE only when semi-supervised)
BUILTIN = sorted({"gan", "dcgan", "lsgan", "cvae"} | LIKELIHOOD | RECONSTRUCTION)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("plugin", BUILTIN)
def test_every_family_gets_its_metric_set(plugin, registry):
    run_id = train_run(plugin, {"name": "digits", "limit": 512}, registry.model(plugin).tiny, batch_size=64)
    m = evaluate(run_id, Options(n=120, local=True, k=2)).metrics
    assert SAMPLE <= set(m)
    assert ("nll_nats" in m) == (plugin in LIKELIHOOD) and ("bits_per_dim" in m) == (plugin in LIKELIHOOD)
    assert ("recon_mse" in m) == (plugin in RECONSTRUCTION)
    assert ("gan_test" in m and "gan_train" in m) == (plugin in CONDITIONAL)
    assert ("accuracy" in m) == (plugin in CLASSIFY) and "accuracy_labels_only" not in m  # every label kept
    assert not {"parzen_ll", "modes_captured"} & set(m)  # opt-in, and only for 2-D mixtures
    assert all(math.isfinite(v) for v in m.values()), m


def test_a_semi_supervised_run_gets_its_accuracy_and_the_labels_only_baseline(registry):
    tiny = registry.model("aae").tiny
    run_id = train_run("aae", {"name": "digits", "labelled": 100}, {**tiny, "variant": "semi-supervised"},
                       batch_size=64, epochs=2)
    m = evaluate(run_id, Options(n=120, local=True, metrics="accuracy")).metrics
    assert set(m) == {"n", "accuracy", "accuracy_labels_only", "accuracy_scratch"}
    assert 0 <= m["accuracy"] <= 1 and 0.3 < m["accuracy_labels_only"] <= 1  # a CNN on 100 digits beats chance (0.1)
    assert 0.3 < m["accuracy_scratch"] <= 1  # so does the AAE's own encoder, trained on the 100 labels alone
