"""GAN-test and GAN-train for class-conditional models (Shmelkov, Schmid and Alahari 2018,
"How good is my GAN?").

GAN-test: accuracy of the real-trained reference classifier on samples drawn for given
classes (high = samples look like their class). GAN-train: a classifier of the same
architecture trained on labelled samples, scored on the real test set (high = samples are
diverse and faithful enough to learn from); beside it the same budget on real images.
"""
from __future__ import annotations

import dataclasses

import torch

from gp.eval.classifier import ClassifierConfig, accuracy, fit


def balanced_labels(n: int, classes: int) -> torch.Tensor:
    """0, 1, ..., C-1, 0, 1, ... : n labels, every class equally often (n,)."""
    return torch.arange(n) % classes


def gan_test(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of conditional samples the reference classifier assigns to their class."""
    return float((probs.argmax(1) == labels).double().mean())


def gan_train(x: torch.Tensor, y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
              classes: int, cfg: ClassifierConfig = ClassifierConfig()) -> float:
    """Test accuracy of a classifier trained on (x, y) with the reference recipe."""
    cfg = dataclasses.replace(cfg, seed=cfg.seed + 1)
    with torch.enable_grad():  # metrics run under no_grad
        net = fit(x.float(), y, classes, cfg)
    return accuracy(net, test_x, test_y)


def labels_only(train, test, labelled: int, seed: int = 0, cfg: ClassifierConfig = ClassifierConfig()) -> float:
    """Test accuracy of the reference CNN trained from scratch on the ``labelled`` examples a
    run with ``data.labelled`` and ``data.label_seed=seed`` kept (the same balanced, seeded
    choice): what the labels alone give."""
    from gp.data.spec import hide_labels

    kept = hide_labels(train, labelled, seed)
    mask = kept.y >= 0
    with torch.enable_grad():
        net = fit(train.x[mask], kept.y[mask], train.spec.num_classes, dataclasses.replace(cfg, seed=cfg.seed + 2))
    return accuracy(net, test.x, test.y)
