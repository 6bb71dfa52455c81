"""``gp sample``: its options (``n``, ``seed``, ``y``), class labels for conditional models,
and the file it writes: a PNG picture (enlarged when small), or the raw samples of shape
``(n, *data shape)`` as ``.npy`` (NumPy) or ``.pt`` (torch) for one's own metrics.

Options and the output file are checked before the run's checkpoint is fetched.
"""
from __future__ import annotations

import pathlib

from gp.errors import GpError, unknown

OPTIONS = {"n": (int, "n=64"), "seed": (int, "seed=0"), "y": (str, "y=3 or y=0,1,2")}
FORMATS = {".png": "a picture", ".npy": "the raw samples (NumPy)", ".pt": "the raw samples (torch)"}


def parse_options(pairs: list[str]) -> dict:
    """``["n=16", "y=3"]`` -> ``{"n": 16, "seed": 0, "y": "3"}``; one-line errors."""
    values = {"n": 64, "seed": 0, "y": None}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq:
            raise GpError(f"option '{pair}' is not key=value (example: n=64)")
        if key not in OPTIONS:
            raise unknown("option", key, OPTIONS)
        kind, example = OPTIONS[key]
        try:
            values[key] = kind(value)
        except ValueError:
            raise GpError(f"bad value for '{key}': {value!r} (example: {example})") from None
    if values["n"] < 1:
        raise GpError("n must be at least 1 (example: n=64)")
    return values


def output_format(out: str, scale: int | None) -> str:
    """The extension of ``out`` (``.png``, ``.npy`` or ``.pt``), checked with ``--scale``."""
    ext = pathlib.Path(out).suffix.lower()
    if ext not in FORMATS:
        kinds = ", ".join(f"{e} ({what})" for e, what in FORMATS.items())
        raise GpError(f"--out {out}: cannot write '{ext or 'no extension'}' files; use {kinds}")
    if scale is not None and ext != ".png":
        raise GpError(f"--scale enlarges a .png picture; {ext} holds the raw samples, drop --scale")
    if scale is not None and scale < 1:
        raise GpError(f"--scale must be at least 1 (got {scale}; example: --scale 4)")
    if not pathlib.Path(out).resolve().parent.is_dir():
        raise GpError(f"--out {out}: folder {pathlib.Path(out).parent} does not exist; create it first")
    return ext


def labels(spec: str | None, n: int, model):
    """Class labels ``(n,)`` from ``y=3`` (all of class 3) or ``y=0,1,2`` (repeated to n),
    or None without ``y=``. The model instance must honour labels (``is_conditional``)."""
    import torch

    if spec is None:
        return None
    if not model.is_conditional:
        raise GpError(f"this run's {model.name} model is not conditional: it cannot sample given labels; drop y=")
    try:
        ys = [int(v) for v in spec.split(",")]
    except ValueError:
        raise GpError(f"bad value for 'y': {spec!r} (example: y=3 or y=0,1,2)") from None
    classes = model.data.num_classes
    bad = [v for v in ys if not 0 <= v < classes]
    if bad:
        raise GpError(f"label y={bad[0]} is out of range: this model's classes are 0..{classes - 1}")
    return torch.tensor(ys).repeat(-(-n // len(ys)))[:n]


def draw(model, opts: dict):
    """(samples (n, *data shape), labels or None) from ``model`` with the parsed options."""
    import torch

    y = labels(opts["y"], opts["n"], model)
    torch.manual_seed(opts["seed"])
    return model.sample(opts["n"], None if y is None else y.to(model.device)), y


def write(x, y, kind: str, out: str, ext: str, scale: int | None) -> str:
    """Write samples ``x`` to ``out`` as ``ext``; a few words on what was written."""
    if ext == ".png":
        return _write_png(x, y, kind, out, scale)
    x = x.detach().cpu()
    with open(out, "wb") as fh:  # a file object: NumPy adds no second extension
        if ext == ".npy":
            import numpy as np

            np.save(fh, x.numpy())
        else:
            import torch

            torch.save(x, fh)
    return f"array of shape {tuple(x.shape)}"


def _write_png(x, y, kind: str, out: str, scale: int | None) -> str:
    from PIL import Image

    from gp.render import auto_scale, enlarge, picture

    img = picture(x, kind, labels=y)
    img = enlarge(img, scale or auto_scale(img))
    Image.fromarray(img).save(out, format="PNG")
    return f"{img.shape[1]}x{img.shape[0]} picture"
