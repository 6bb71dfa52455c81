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


SCRATCH_STEPS = 500  # full-batch Adam steps on the kept labels: far past 100% training accuracy


def scratch_accuracy(model, train, test, labelled: int, seed: int = 0, steps: int = SCRATCH_STEPS) -> float:
    """Test accuracy of the model's own classifier network (``class_logits``), freshly
    initialised and trained from scratch on the ``labelled`` examples the run kept (the same
    seeded draw) and nothing else: the papers' supervised baseline for semi-supervised accuracy."""
    from gp.data.spec import as_float, hide_labels

    torch.manual_seed(seed)
    fresh = type(model)(model.config, model.data).to(model.device)
    kept = hide_labels(train, labelled, seed)
    mask = kept.y >= 0
    x, y = as_float(train.x[mask]).to(model.device), kept.y[mask].to(model.device)  # (N, *shape), (N,)
    opt = torch.optim.Adam(fresh.parameters(), lr=1e-3)
    with torch.enable_grad():  # metrics run under no_grad
        fresh.train()
        for _ in range(steps):
            loss = torch.nn.functional.cross_entropy(fresh.class_logits(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    fresh.eval()
    right = sum(int((fresh.class_logits(as_float(test.x[i:i + 1000]).to(model.device)).argmax(1)
                     == test.y[i:i + 1000].to(model.device)).sum()) for i in range(0, len(test.x), 1000))
    return right / max(len(test.x), 1)
