"""gp: a plugin-based distributed training platform for generative models.

The package is kept import-light: torch, Ray and MLflow are imported by the modules
that need them, so ``gp --help`` and ``gp plugins`` stay fast.
"""
import pluggy

__version__ = "0.1.0"

#: Marker for plugin hook implementations: ``@gp.hookimpl def register_models(register): ...``
hookimpl = pluggy.HookimplMarker("gp")

__all__ = ["__version__", "hookimpl"]
