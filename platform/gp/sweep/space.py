"""Search spaces: ``key=loguniform(1e-5,1e-3)`` on the command line, the same text or
``{loguniform: [1e-5, 1e-3]}`` in a YAML ``--config``; every other value is a fixed override.

Distributions (Ray Tune's sampling functions): ``choice(a,b,...)`` one of the values,
``uniform(lo,hi)``, ``loguniform(lo,hi)`` (lo > 0), ``randint(lo,hi)`` an integer in
[lo, hi) as in Ray Tune and numpy, and ``grid(a,b,...)``: every value, each crossed with
the other grids. Each error is one :class:`~gp.errors.GpError` line.
"""
from __future__ import annotations

import ast
import dataclasses
import math
import re

from gp.errors import GpError, unknown

DISTRIBUTIONS = ("choice", "grid", "loguniform", "randint", "uniform")
CALL = re.compile(r"^\s*([A-Za-z_]\w*)\((.*)\)\s*$", re.S)


@dataclasses.dataclass(frozen=True)
class Dist:
    """One searched key's distribution: ``kind`` and its arguments."""

    kind: str
    args: tuple

    def text(self) -> str:
        return f"{self.kind}({','.join(map(str, self.args))})"

    def extremes(self) -> list:
        """Values that bound what a trial may get (each is validated before the sweep starts)."""
        if self.kind in ("choice", "grid"):
            return list(self.args)
        lo, hi = self.args
        return [lo, hi - 1] if self.kind == "randint" else [lo, hi]

    def to_tune(self):
        from ray import tune

        if self.kind == "grid":
            return tune.grid_search(list(self.args))
        if self.kind == "choice":
            return tune.choice(list(self.args))
        return getattr(tune, self.kind)(*self.args)


@dataclasses.dataclass
class Space:
    """A sweep's fixed part (overrides and a YAML mapping) and its searched keys."""

    fixed: list[str]
    fixed_yaml: dict
    searched: dict[str, Dist]

    @property
    def grid_size(self) -> int:
        return math.prod(len(d.args) for d in self.searched.values() if d.kind == "grid")

    def to_tune(self) -> dict:
        """Ray Tune's ``param_space`` values, keyed by the dotted key."""
        return {key: dist.to_tune() for key, dist in self.searched.items()}


def split(overrides: list[str], yaml_file: str | None = None) -> Space:
    """Separate searched keys from fixed ones, in the overrides and in the YAML file."""
    fixed, searched = [], {}
    for item in overrides:
        key, eq, value = item.partition("=")
        dist = parse_value(key.strip(), value) if eq else None
        if dist is None:
            fixed.append(item)
        else:
            searched[key.strip()] = dist
    fixed_yaml = _split_yaml(_load_yaml(yaml_file), "", searched) if yaml_file else {}
    if not searched:
        raise GpError("nothing to search: give at least one key a distribution "
                      "(example: model.lr=loguniform(1e-5,1e-3))")
    return Space(fixed, fixed_yaml, searched)


def parse_value(key: str, value) -> Dist | None:
    """``"loguniform(1e-5,1e-3)"`` or ``{"loguniform": [1e-5, 1e-3]}`` -> a Dist; None for a plain value."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in DISTRIBUTIONS:
        kind, args = next(iter(value.items()))
        return check(key, kind, tuple(args) if isinstance(args, (list, tuple)) else (args,))
    if not isinstance(value, str):
        return None
    match = CALL.match(value)
    if match is None:
        return None
    kind = match.group(1)
    if kind not in DISTRIBUTIONS:
        raise GpError(f"{key}: unknown distribution '{kind}'; use one of {', '.join(DISTRIBUTIONS)} "
                      f"(example: {key}=choice(1,2))")
    return check(key, kind, tuple(_arg(a) for a in match.group(2).split(",") if a.strip()))


def _arg(text: str):
    """One argument: a number, true/false, or a (possibly quoted) string."""
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, (int, float, str)) else text


def check(key: str, kind: str, args: tuple) -> Dist:
    """The distribution, or one line saying what is wrong with its arguments."""
    example = {"choice": "choice(32,64)", "grid": "grid(0.0,0.5)", "uniform": "uniform(0.0,0.9)",
               "loguniform": "loguniform(1e-5,1e-3)", "randint": "randint(1,9)"}[kind]
    if kind in ("choice", "grid"):
        if not args:
            raise GpError(f"{key}: {kind}() needs at least one value (example: {key}={example})")
        return Dist(kind, args)
    numbers = all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)
    if len(args) != 2 or not numbers or not args[0] < args[1]:
        raise GpError(f"{key}: {kind} takes two numbers, low < high (example: {key}={example})")
    if kind == "loguniform" and args[0] <= 0:
        raise GpError(f"{key}: loguniform needs low > 0 (example: {key}={example})")
    if kind == "randint" and not all(isinstance(a, int) for a in args):
        raise GpError(f"{key}: randint takes two integers, low included, high excluded (example: {key}={example})")
    return Dist(kind, tuple(args))


def _load_yaml(path: str) -> dict:
    import yaml

    try:
        with open(path) as f:
            loaded = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise GpError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(loaded, dict):
        raise GpError(f"{path} must hold a mapping of keys (example: model: {{lr: loguniform(1e-5,1e-3)}})")
    return loaded


def _split_yaml(node: dict, prefix: str, searched: dict) -> dict:
    """The mapping without its distributions, which go (by dotted key) into ``searched``;
    the command line's distribution for a key wins over the file's."""
    fixed = {}
    for k, v in node.items():
        key = f"{prefix}{k}"
        dist = parse_value(key, v)
        if dist is not None:
            searched.setdefault(key, dist)
        elif isinstance(v, dict):
            fixed[k] = _split_yaml(v, key + ".", searched)
        else:
            fixed[k] = v
    return fixed


def check_trials(space: Space, trials: int) -> int:
    """Ray Tune's ``num_samples``: random draws per grid point, so ``trials`` runs in all."""
    if trials < 1:
        raise GpError("--trials must be at least 1")
    if space.grid_size > trials:
        raise GpError(f"the grid has {space.grid_size} points but --trials is {trials}; "
                      f"raise --trials to at least {space.grid_size} or use choice() instead of grid()")
    return trials // space.grid_size


def check_mode(mode: str) -> str:
    if mode not in ("min", "max"):
        raise GpError(f"--mode must be min or max (got {mode!r})")
    return mode


def check_scheduler(name: str) -> str:
    if name not in ("asha", "fifo"):
        raise unknown("scheduler", name, ["asha", "fifo"])
    return name
