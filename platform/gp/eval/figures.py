"""Figures of an evaluation, as uint8 images (H, W, 3) for ``MlflowClient.log_image``.

- ``precision_recall``: improved precision/recall for k = 1, 3, 10 neighbours, model and floor.
- ``class_histogram``: predicted-class shares of samples beside the test set's.
- ``nearest_neighbours``: samples (first column) beside their nearest training images in
  pixel space (Goodfellow et al. 2014 show this against memorisation).
- ``modes``: 2-D samples over the mixture's mode centres.
"""
from __future__ import annotations

import numpy as np
import torch

from gp.render import grid, scatter


def _canvas(size=(4, 3.2)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=80)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _pixels(fig) -> np.ndarray:
    fig.tight_layout()
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def precision_recall(values: dict) -> np.ndarray:
    """Recall (x) against precision (y) as k grows, for the model and the floor."""
    from gp.eval.scores import PR_KS

    fig, ax = _canvas()
    for suffix, label in (("", "model"), ("_floor", "train vs test")):
        ks = [k for k in PR_KS if f"precision_k{k}{suffix}" in values]
        if ks:
            r = [values[f"recall_k{k}{suffix}"] for k in ks]
            p = [values[f"precision_k{k}{suffix}"] for k in ks]
            ax.plot(r, p, "o-", label=label)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02), title=f"k = {PR_KS}")
    ax.legend(loc="lower left")
    return _pixels(fig)


def class_histogram(fake: torch.Tensor, real: torch.Tensor) -> np.ndarray:
    """Bars: share of each predicted class among samples and test images."""
    from gp.eval.metrics import class_histogram as hist

    fig, ax = _canvas()
    classes = np.arange(fake.shape[1])
    ax.bar(classes - 0.2, hist(fake).numpy(), 0.4, label="samples")
    ax.bar(classes + 0.2, hist(real).numpy(), 0.4, label="test")
    ax.set(xlabel="predicted class", ylabel="share", xticks=classes)
    ax.legend()
    return _pixels(fig)


def nearest_neighbours(samples: torch.Tensor, train: torch.Tensor, rows: int = 8, k: int = 5) -> np.ndarray:
    """Each row: a sample, then its k nearest training images (L2 in pixel space)."""
    s = samples[:rows]
    idx = torch.cdist(s.flatten(1), train.flatten(1)).topk(k, largest=False).indices  # (rows, k)
    tiles = torch.cat([s.unsqueeze(1), train[idx]], 1)  # (rows, 1 + k, C, H, W)
    from skimage.util import montage

    x = np.moveaxis(tiles.flatten(0, 1).clamp(0, 1).numpy(), 1, -1)
    x = np.repeat(x, 3, -1) if x.shape[-1] == 1 else x
    img = montage(x, grid_shape=(len(s), k + 1), channel_axis=-1, fill=(1.0,) * 3, padding_width=1)
    return (img * 255).round().astype(np.uint8)


def all_figures(ctx, values: dict) -> dict:
    """The figures that apply to this evaluation."""
    out = {}
    if "precision_k3" in values:
        out["precision_recall"] = precision_recall(values)
    if ctx.draw.probs is not None and ctx.real[1] is not None:
        out["class_histogram"] = class_histogram(ctx.draw.probs, ctx.real[1])
    if ctx.model.data.kind == "image":
        out["nearest_neighbours"] = nearest_neighbours(ctx.draw.x, ctx.train.x)
        out["samples"] = grid(ctx.draw.x[:64])
    elif ctx.test.modes is not None:
        out["modes"] = scatter(ctx.draw.x[:2000], ctx.test.modes.centres)
    return out
