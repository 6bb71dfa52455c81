"""The hooks a gp plugin may implement (pluggy specifications)."""
import pluggy

hookspec = pluggy.HookspecMarker("gp")


@hookspec
def register_models(register):
    """Register model classes: call ``register(ModelClass)`` once per model.

    A model class subclasses :class:`gp.model.GenerativeModel` and sets ``name``.
    """


@hookspec
def register_datasets(register):
    """Register datasets: call ``register(name, loader, description)`` once per dataset.

    ``loader(data_config, split)`` (split is ``"train"`` or ``"test"``) returns a :class:`gp.data.spec.Dataset`, or raises
    :class:`gp.errors.GpError` with a one-line message saying how to get the data.
    """
