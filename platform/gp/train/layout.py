"""Channels-last memory format for convolutional models (``trainer.channels_last``).

cuDNN and oneDNN run 2-D convolutions fastest on NHWC ("channels last") tensors
(https://pytorch.org/tutorials/intermediate/memory_format_tutorial.html). With the
weights in that format every activation of a convolution follows it; the data need not be
converted (one-channel images are laid out the same either way). Measured
(docs/performance.md): faster for DCGAN's captured step on a GPU and for DCGAN and LSGAN on
a CPU; PixelCNN and PixelRNN within noise, so autoregressive models opt out
(``channels_last = False``).
"""
from __future__ import annotations

import torch
from torch import nn

CONVOLUTIONS = (nn.Conv2d, nn.ConvTranspose2d)


def wanted(model: nn.Module, mode: bool | str) -> bool:
    """Whether ``model`` trains in channels-last: ``mode`` true or false, or ``auto``: when it
    has a 2-D convolution and its class does not set ``channels_last = False``."""
    if mode != "auto":
        return bool(mode)
    return getattr(model, "channels_last", True) and any(isinstance(m, CONVOLUTIONS) for m in model.modules())


def apply(model: nn.Module, mode: bool | str) -> bool:
    """Put ``model``'s 4-D parameters and buffers in channels-last if :func:`wanted`; in place
    (the same Parameter objects), so optimizers and wrappers built later see them."""
    if not wanted(model, mode):
        return False
    model.to(memory_format=torch.channels_last)
    return True
