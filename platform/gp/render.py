"""Pictures of samples: image grids (scikit-image's montage) and 2-D scatter plots, and
nearest-neighbour enlargement of small pictures."""
from __future__ import annotations

import numpy as np
import torch


def grid(samples: torch.Tensor) -> np.ndarray:
    """(n, C, H, W) in [0, 1] -> one uint8 image (H', W', 3) laid out in a square grid."""
    from skimage.util import montage

    x = samples.detach().float().clamp(0, 1).cpu().numpy()
    x = np.moveaxis(x, 1, -1)  # (n, H, W, C)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, -1)
    side = int(np.ceil(np.sqrt(len(x))))
    img = montage(x, grid_shape=(side, side), channel_axis=-1, fill=(1.0,) * x.shape[-1], padding_width=1)
    return (img * 255).round().astype(np.uint8)


def scatter(points: torch.Tensor, reference: torch.Tensor | None = None,
            labels: torch.Tensor | None = None) -> np.ndarray:
    """(n, 2) points (optionally over reference data, coloured by class ``labels`` (n,)) -> uint8 (H, W, 3)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 4), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if reference is not None:
        ax.scatter(*reference[:, :2].cpu().T.numpy(), s=2, c="lightgrey")
    colour = {"c": "tab:blue"} if labels is None else {"c": labels.cpu().numpy(), "cmap": "tab10", "vmin": 0, "vmax": 9}
    ax.scatter(*points[:, :2].detach().cpu().T.numpy(), s=2, **colour)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def picture(samples: torch.Tensor, kind: str, reference: torch.Tensor | None = None,
            labels: torch.Tensor | None = None) -> np.ndarray:
    """The right picture for a data kind (points coloured by class ``labels``, if given)."""
    return grid(samples) if kind == "image" else scatter(samples, reference, labels)


def auto_scale(img: np.ndarray, side: int = 256) -> int:
    """The smallest whole factor that makes the picture at least ``side`` pixels wide and high."""
    return max(1, -(-side // min(img.shape[:2])))


def enlarge(img: np.ndarray, scale: int) -> np.ndarray:
    """(H, W, ...) -> (H * scale, W * scale, ...): every pixel a ``scale`` x ``scale`` block."""
    return img.repeat(scale, axis=0).repeat(scale, axis=1)
