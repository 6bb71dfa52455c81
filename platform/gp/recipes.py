"""Named recipes: a plugin's published training settings, ``gp submit plugin=dcgan recipe=paper``.

A model class declares ``recipes = {"paper": Recipe(...), ...}``. A recipe is a set of
overrides (``model.*``, ``data.*``, ``trainer.*`` keys) and, for each value, where it comes
from (a paper and its section or table, or why it was chosen). It sits under the user's
YAML file and command line: any key given there wins. The run records it as the tag
``gp.recipe`` and the param ``recipe``.
"""
from __future__ import annotations

import dataclasses

from gp.errors import GpError

SECTIONS = ("model", "data", "trainer")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """``values``: ``{"trainer.epochs": (100, "Radford et al. 2016, section 4"), ...}``."""

    description: str
    values: dict = dataclasses.field(default_factory=dict)  # dotted key -> (value, source)

    def overrides(self) -> dict:
        """The recipe's values as a nested dict (``{"trainer": {"epochs": 100}}``)."""
        nested: dict = {}
        for key, (value, _source) in self.values.items():
            section, _, rest = key.partition(".")
            if section not in SECTIONS or not rest:
                raise GpError(f"recipe key '{key}' must start with one of {', '.join(SECTIONS)}")
            _put(nested.setdefault(section, {}), rest.split("."), value)
        return nested


def _put(d: dict, path: list[str], value) -> None:
    for part in path[:-1]:
        d = d.setdefault(part, {})
    d[path[-1]] = value


def recipes_of(cls) -> dict:
    """The recipes a model class declares (none: an empty dict)."""
    return dict(getattr(cls, "recipes", None) or {})


def apply(raw: dict, cls) -> dict:
    """``raw`` (the user's parsed job) on top of its recipe's overrides, if it names one."""
    name = raw.get("recipe")
    if not name:
        return raw
    found = recipes_of(cls)
    if name not in found:
        listed = ", ".join(sorted(found)) or "none"
        raise GpError(f"plugin {cls.name} has no recipe '{name}' (its recipes: {listed}); "
                      f"'gp plugins show {cls.name}' describes them")
    return _merge(found[name].overrides(), raw)


def _merge(base: dict, top: dict) -> dict:
    """Deep merge: ``top`` wins; the data section's name decides its keys, so a user's other
    dataset drops the recipe's data keys."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    if isinstance(top.get("data"), dict) and top["data"].get("name") not in (None, base.get("data", {}).get("name")):
        out["data"] = dict(top["data"])
    return out
