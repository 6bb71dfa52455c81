"""What every benchmark shares: alternating contenders, the machine, a table, JSON out.

Contenders run in turns (A B C, then C B A, ...) so that a machine whose load drifts
(this one is shared) treats them alike; results are medians over rounds and ratios of
medians. JSON goes to ``results/`` (git-ignored) and, when set, to ``$OUT``.
"""
from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
import statistics
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def alternate(contenders: dict, rounds: int) -> dict[str, list]:
    """Call every contender once per round, reversing the order every other round."""
    names = list(contenders)
    results: dict[str, list] = {n: [] for n in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            results[name].append(contenders[name]())
    return results


def median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def spread(values) -> float:
    """Relative half-range of the rounds (max - min) / (2 median): the noise of one figure."""
    values = [v for v in values if v is not None]
    if len(values) < 2:
        return float("nan")
    return (max(values) - min(values)) / (2 * statistics.median(values))


def timed(fn) -> float:
    """Wall-clock seconds of ``fn()``."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def machine() -> dict:
    """Where and when: host, CPUs, load, Python, torch and the GPU, if any."""
    info = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "host": platform.node(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "load_avg": _load()}
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name()
    except ImportError:
        pass
    return info


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def table(headers: list[str], rows: list[list]) -> str:
    """A plain fixed-width table (numbers formatted by the caller)."""
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def save(name: str, payload: dict) -> list[pathlib.Path]:
    """Write ``{machine, **payload}`` as ``NAME.json`` under results/ and $OUT (if set)."""
    doc = json.dumps({"benchmark": name, "machine": machine(), **payload}, indent=1, default=str)
    folders = [ROOT / "results"] + ([pathlib.Path(os.environ["OUT"])] if os.environ.get("OUT") else [])
    paths = []
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}.json").write_text(doc)
            paths.append(folder / f"{name}.json")
        except OSError as exc:
            print(f"(could not write {folder}/{name}.json: {exc})")
    return paths


def fmt(x: float, digits: int = 3) -> str:
    return "-" if x is None or x != x else f"{x:.{digits}g}"
