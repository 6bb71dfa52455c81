"""The first `gp eval` on a dataset trains the reference classifier: it says so, and how long."""
import torch

from gp.data.spec import Dataset
from gp.eval.classifier import ClassifierConfig, fit, schedule, train_reference
from gp.model import DataSpec


class Counter:
    def __init__(self):
        self.n = 0

    def update(self, k=1):
        self.n += k


def small(n=96):
    g = torch.Generator().manual_seed(0)
    return Dataset(torch.rand(n, 1, 8, 8, generator=g), torch.arange(n) % 3, DataSpec((1, 8, 8), 3, "image"))


def test_the_progress_advances_once_per_step():
    cfg, data, bar = ClassifierConfig(epochs=2, min_steps=1, batch_size=32, channels=(4, 4), hidden=8), small(), Counter()
    fit(data.x, data.y, 3, cfg, bar)
    assert schedule(len(data.x), cfg) == (2, 3) and bar.n == 6


def test_training_the_reference_classifier_says_what_it_does_and_how_many_steps():
    cfg, lines = ClassifierConfig(epochs=1, min_steps=4, batch_size=32, channels=(4, 4), hidden=8), []
    payload = train_reference(small(), small(30), cfg, say=lines.append)
    assert len(lines) == 1 and "training the reference classifier once (96 examples, 2 epochs, 6 steps)" in lines[0]
    assert payload["seconds"] > 0
