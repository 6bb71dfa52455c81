"""Plugin discovery: a fault-tolerant pluggy manager over the ``gp`` entry-point group.

Built-in models and datasets are loaded exactly like third-party ones. A plugin that
fails to import or has a bad hook is recorded in :attr:`Registry.failures` and every
other plugin keeps working; so is a model class that breaks the contract of
:mod:`gp.model` in a way visible without building it (:func:`gp.contract.class_problem`).
``GP_LOAD_PLUGINS=a,b`` restricts loading to those
entry-point names (an empty value loads none).
"""
from __future__ import annotations

import dataclasses
import importlib.metadata as md
import os

import pluggy

from gp import hookspecs
from gp.data.options import RootOptions
from gp.errors import GpError, first_line, unknown

GROUP = "gp"
ENV_ALLOW = "GP_LOAD_PLUGINS"


@dataclasses.dataclass
class Origin:
    """Where a plugin came from: entry-point name, distribution and version."""

    plugin: str
    dist: str = "unknown"
    version: str = "unknown"


@dataclasses.dataclass
class Registry:
    """What the loaded plugins registered."""

    models: dict = dataclasses.field(default_factory=dict)  # name -> (cls, Origin)
    datasets: dict = dataclasses.field(default_factory=dict)  # name -> (loader, description, Origin, options class)
    failures: dict = dataclasses.field(default_factory=dict)  # plugin -> (Origin, error text)

    def model(self, name: str):
        """The model class registered as ``name`` (one-line error with suggestions if none)."""
        if name in self.failures:
            origin, error = self.failures[name]
            raise GpError(f"plugin '{name}' ({origin.dist} {origin.version}) failed to load: {error}; "
                          "fix or uninstall it ('gp plugins' lists load errors)")
        if name not in self.models:
            raise unknown("plugin", name, self.models)
        return self.models[name][0]

    def origin(self, name: str) -> Origin:
        return self.models[name][1]

    def dataset(self, name: str):
        """The loader registered as ``name``."""
        if name not in self.datasets:
            raise unknown("dataset", name, self.datasets)
        return self.datasets[name][0]

    def dataset_options(self, name: str):
        """The options class (:mod:`gp.data.options`) of dataset ``name``: its own ``data.*`` keys."""
        self.dataset(name)
        return self.datasets[name][3]


def _allowed() -> set[str] | None:
    raw = os.environ.get(ENV_ALLOW)
    if raw is None:
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


def _origin(ep: md.EntryPoint) -> Origin:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return Origin(ep.name)
    return Origin(ep.name, dist.metadata["Name"], dist.version)


def get_plugin_manager(load: bool = True) -> tuple[pluggy.PluginManager, dict]:
    """A fresh plugin manager; with ``load`` it registers every allowed entry point.

    Returns the manager and a dict ``plugin name -> Origin | (Origin, error)``.
    """
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    loaded: dict = {}
    allowed = _allowed()
    for ep in md.entry_points(group=GROUP) if load else ():
        if allowed is not None and ep.name not in allowed:
            continue
        origin = _origin(ep)
        try:
            pm.register(ep.load(), name=ep.name)
            loaded[ep.name] = origin
        except Exception as exc:  # a broken plugin must not break the others
            loaded[ep.name] = (origin, f"{type(exc).__name__}: {first_line(exc)}")
    return pm, loaded


def load_registry() -> Registry:
    """Load every allowed plugin and collect what each registers."""
    pm, loaded = get_plugin_manager()
    reg = Registry()
    for name, origin in loaded.items():
        if isinstance(origin, tuple):
            reg.failures[name] = origin
            continue
        plugin = pm.get_plugin(name)
        _collect(pm, plugin, origin, reg)
    return reg


def _collect(pm, plugin, origin: Origin, reg: Registry) -> None:
    """Call one plugin's hooks, so a failure is attributed to that plugin."""
    models, datasets = {}, {}
    try:
        if hasattr(plugin, "register_models"):
            plugin.register_models(register=lambda cls: models.__setitem__(_checked(cls).name, (cls, origin)))
        if hasattr(plugin, "register_datasets"):
            def register(name, loader, description="", options=None):
                datasets[name] = (loader, description, origin, options or RootOptions)

            plugin.register_datasets(register=register)
    except Exception as exc:
        reason = str(exc) if isinstance(exc, GpError) else f"{type(exc).__name__}: {exc}"
        reg.failures[origin.plugin] = (origin, first_line(reason))
        return
    reg.models.update(models)
    reg.datasets.update(datasets)


def _checked(cls):
    """``cls`` if it keeps the model contract (:mod:`gp.contract`), else a one-line GpError."""
    from gp.contract import check_class

    check_class(cls)
    return cls
