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
    x, y = kept_examples(train, labelled, seed)
    with torch.enable_grad():
        net = fit(x, y, train.spec.num_classes, dataclasses.replace(cfg, seed=cfg.seed + 2))
    return accuracy(net, test.x, test.y)


def kept_examples(train, labelled: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The (N, *shape) examples and (N,) labels a run with ``data.labelled=N`` and
    ``data.label_seed=seed`` kept (the same balanced, seeded draw as training)."""
    from gp.data.spec import hide_labels

    kept = hide_labels(train, labelled, seed)
    mask = kept.y >= 0
    return train.x[mask], kept.y[mask]


SCRATCH_STEPS = 500  # full-batch Adam steps on the kept labels: far past 100% training accuracy


def scratch_accuracy(model, train, test, labelled: int, seed: int = 0, steps: int = SCRATCH_STEPS) -> float:
    """Test accuracy of the model's own classifier network (``class_logits``), freshly
    initialised and trained from scratch on the ``labelled`` examples the run kept (the same
    seeded draw) and nothing else: the papers' supervised baseline for semi-supervised accuracy."""
    from gp.data.spec import as_float

    torch.manual_seed(seed)
    fresh = type(model)(model.config, model.data).to(model.device)
    x, y = kept_examples(train, labelled, seed)
    x, y = as_float(x).to(model.device), y.to(model.device)  # (N, *shape), (N,)
    opt = torch.optim.Adam(fresh.parameters(), lr=1e-3)
    with torch.enable_grad():  # metrics run under no_grad
        fresh.train()
        for _ in range(steps):
            loss = torch.nn.functional.cross_entropy(fresh.class_logits(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    fresh.eval()
    return accuracy(fresh.class_logits, as_float(test.x).to(model.device), test.y.to(model.device))
