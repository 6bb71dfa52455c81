"""The hooks a gp plugin may implement (pluggy specifications); docs/writing-plugins.md
explains them to plugin authors."""
import pluggy

hookspec = pluggy.HookspecMarker("gp")


@hookspec
def register_models(register):
    """Register model classes: call ``register(ModelClass)`` once per model.

    A model class subclasses :class:`gp.model.GenerativeModel` and keeps its contract (every
    config field has a default, flags are bools, ...); a class that breaks it makes the whole
    plugin fail to load, listed by ``gp plugins`` with a one-line reason (:mod:`gp.contract`).
    """


@hookspec
def register_datasets(register):
    """Register datasets: call ``register(name, loader, description, options=None)`` once per dataset.

    ``loader(data_config, split)`` (split is ``"train"`` or ``"test"``) returns a :class:`gp.data.spec.Dataset`, or raises
    :class:`gp.errors.GpError` with a one-line message saying how to get the data.
    ``options`` is a :class:`gp.data.options.DataOptions` subclass declaring the dataset's own
    ``data.*`` keys (default :class:`gp.data.options.RootOptions`: ``data.root``).
    """
