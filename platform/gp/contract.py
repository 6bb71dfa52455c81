"""Checking model plugins against the contract declared in :mod:`gp.model`.

Three checks, each failing with one line that names the plugin, the hook (and update) and
the rule broken:

- :func:`class_problem`, when a plugin registers a model (no model is built): every config
  field has a default, flags are bools, kinds are known, declared capabilities exist;
- :func:`preflight`, in the driver before Ray starts: the model is built from the job's
  config and data, and every update's ``forward`` runs once (with backward) on a few real
  examples, in every phase, and ``sample(2)`` runs once;
- :func:`guard`, in every worker: an error raised by the plugin's code while training
  becomes a :class:`PluginError`, which the driver does not retry (the same error would
  come back on every retry).
"""
from __future__ import annotations

import contextlib
import inspect

from gp.errors import GpError, first_line

FIX = "fix the plugin (the contract: docs/writing-plugins.md)"


class PluginError(GpError):
    """A deterministic error in a plugin's code; retrying the workers cannot help."""


# ---------------------------------------------------------------- static, at registration


def class_problem(cls) -> str | None:
    """The first way model class ``cls`` breaks the contract, as a phrase, or None."""
    from gp.model import GenerativeModel

    if not (isinstance(cls, type) and issubclass(cls, GenerativeModel)):
        return f"{getattr(cls, '__name__', cls)!r} is not a subclass of gp.model.GenerativeModel"
    for check in (_identity, _config, _flags, _kinds, _implemented):
        problem = check(cls)
        if problem:
            return problem
    return None


def check_class(cls) -> None:
    """Raise :class:`PluginError` if ``cls`` breaks the contract (see :func:`class_problem`)."""
    problem = class_problem(cls)
    if problem:
        raise PluginError(f"model '{getattr(cls, 'name', '?') or cls.__name__}': {problem}")


def _identity(cls) -> str | None:
    from gp.model import ModelConfig

    for attr in ("name", "family"):
        value = getattr(cls, attr)
        if not isinstance(value, str) or not value:
            return f"class attribute '{attr}' must be a non-empty string (it is {value!r})"
    if not (isinstance(cls.Config, type) and issubclass(cls.Config, ModelConfig)):
        return "Config must be a subclass of gp.model.ModelConfig"
    return None


def _config(cls) -> str | None:
    fields = cls.Config.model_fields
    for key, field in fields.items():
        if field.is_required():
            return f"config field '{key}' has no default; give it one (Field(default, description=...))"
    unknown = sorted(set(cls.tiny) - set(fields))
    if unknown:
        return f"tiny sets {', '.join(unknown)}, which Config does not have"
    return None


def _flags(cls) -> str | None:
    from gp.model import FLAGS

    for flag in FLAGS:
        value = inspect.getattr_static(cls, flag)
        if not isinstance(value, bool):
            return (f"class attribute '{flag}' must be True or False (it is {value!r}); "
                    "an instance-level answer goes in a property such as is_conditional")
    return None


def _kinds(cls) -> str | None:
    from gp.model import KINDS

    kinds = cls.kinds
    if isinstance(kinds, str) or not kinds or not set(kinds) <= set(KINDS):
        return f"kinds must be a non-empty tuple from {KINDS} (it is {kinds!r})"
    return None


def _implemented(cls) -> str | None:
    from gp.model import GenerativeModel

    for hook in ("forward", "sample"):
        if getattr(cls, hook) is getattr(GenerativeModel, hook):
            return f"{hook} is not implemented"
    if cls.log_prob_exact and not callable(cls.log_prob):
        return "log_prob_exact is True but log_prob is not implemented"
    if cls.conditional and len(inspect.signature(cls.sample).parameters) < 3:
        return "conditional is True but sample does not take labels: def sample(self, n, y=None)"
    return None


# ---------------------------------------------------------------- pre-flight, in the driver


def preflight(cls, config, data, epochs: int = 1):
    """Build ``cls`` from ``config`` and ``data``'s spec, then run every phase's updates once
    (forward and backward, on 4 examples of ``data``) and ``sample(2)``; :class:`PluginError`
    on the first break. Global RNG state is left as it was; nothing is stepped. Returns the model."""
    import torch

    with torch.random.fork_rng(), _optimizers_without_dynamo():
        torch.manual_seed(0)
        model = _call(cls.name, "__init__", lambda: cls(config, data.spec))
        _check_instance(model)
        for phase in dict.fromkeys(_call(cls.name, "phases", lambda: model.phases(epochs))):
            _call(cls.name, "begin_phase", lambda: model.begin_phase(phase))
            _check_optimizers(model)
            _check_sources(model, data)
            for update in dict.fromkeys(model.updates):
                _check_update(model, _examples(data, model, update), update)
        _check_sample(model, data)
    return model


@contextlib.contextmanager
def _optimizers_without_dynamo():
    """Build optimizers without importing torch._dynamo (a slow import, once per process):
    the driver only checks them. ``Optimizer.add_param_group`` imports it lazily to disable itself."""
    import torch

    fn = getattr(torch.optim.Optimizer.add_param_group, "__wrapped__", None)
    if fn is None or hasattr(fn, "__dynamo_disable"):
        yield
        return
    fn.__dynamo_disable = fn
    try:
        yield
    finally:
        del fn.__dynamo_disable


def _call(name: str, what: str, fn):
    """``fn()``; a plugin exception becomes a one-line :class:`PluginError`."""
    try:
        return fn()
    except PluginError:
        raise
    except Exception as exc:
        if _environmental(exc):
            raise
        raise PluginError(f"plugin '{name}': {what} raised {type(exc).__name__}: {first_line(exc)}; "
                          "check the model.* values, or fix the plugin") from exc


def _environmental(exc: Exception) -> bool:
    """Errors of the machine, not of the code: out of memory, a failed collective."""
    import torch

    return isinstance(exc, (torch.OutOfMemoryError, torch.distributed.DistError))


def _check_instance(model) -> None:
    if "conditional" in vars(model):
        raise PluginError(f"plugin '{model.name}': __init__ sets self.conditional; conditional is the "
                          f"class's declaration, override the is_conditional property instead; {FIX}")


def _check_optimizers(model) -> None:
    import torch

    name = model.name
    updates = _call(name, "updates", lambda: model.updates)
    if isinstance(updates, str) or not updates or not all(isinstance(u, str) for u in updates):
        raise PluginError(f"plugin '{name}': updates must be a non-empty tuple of names (it is {updates!r}); {FIX}")
    opts = _call(name, "configure_optimizers", model.configure_optimizers)
    if not isinstance(opts, dict) or not all(isinstance(o, torch.optim.Optimizer) for o in opts.values()):
        raise PluginError(f"plugin '{name}': configure_optimizers must return a dict of torch optimizers "
                          f"keyed by update name (it returned {type(opts).__name__}); {FIX}")
    missing, extra = sorted(set(updates) - set(opts)), sorted(set(opts) - set(updates))
    if missing or extra:
        said = f"no optimizer for update(s) {', '.join(missing)}" if missing else f"optimizers for no update: {', '.join(extra)}"
        raise PluginError(f"plugin '{name}': configure_optimizers must return one optimizer per update name "
                          f"in phase '{model.phase}' ({said}); {FIX}")


def _check_sources(model, data) -> None:
    """``batch_sources`` names a known source per update, and labelled updates have labels."""
    from gp.train.step import check_sources, slots

    _call(model.name, "batch_sources", lambda: model.batch_sources)
    slots(model)
    check_sources(model, data)


def _examples(data, model, update: str) -> dict:
    """4 examples of ``data``; labelled ones for an update whose batches hold only those."""
    sources = dict(zip(model.updates, getattr(model, "batch_sources", ())))
    index = slice(0, 4)
    if sources.get(update) == "labelled":
        index = (data.y >= 0).nonzero()[:4, 0]
    from gp.data.spec import as_float

    return {"x": as_float(data.x[index]), "y": data.y[index]}


def _check_update(model, batch: dict, update: str) -> None:
    """Forward and backward of one update; its losses must obey the contract."""
    name = model.name
    model.zero_grad(set_to_none=True)
    losses = _call(name, f"forward for update '{update}'", lambda: model(batch, update))
    problem = losses_problem(losses, need_grad=True)
    if problem:
        raise broken_losses(name, update, problem)
    _call(name, f"backward of update '{update}''s loss", losses["loss"].backward)
    model.zero_grad(set_to_none=True)


def losses_problem(losses, need_grad: bool) -> tuple[str, str] | None:
    """What is wrong with what ``forward`` returned: (the rule, what it did instead), or None."""
    import torch

    if not isinstance(losses, dict):
        return "forward must return a dict of scalar tensors", f"it returned {type(losses).__name__}"
    if "loss" not in losses:
        return "forward must return 'loss'", f"it returned keys: {', '.join(map(str, losses)) or 'none'}"
    for key, value in losses.items():
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            return "forward must return scalar tensors", f"its '{key}' is {shape}"
    if need_grad and not losses["loss"].requires_grad:
        return "forward's 'loss' must require grad", "it is detached or computed under no_grad"
    return None


def broken_losses(name: str, update: str, problem: tuple[str, str]) -> PluginError:
    rule, detail = problem
    return PluginError(f"plugin '{name}': {rule} for update '{update}' ({detail}); {FIX}")


def _check_sample(model, data) -> None:
    import torch

    y = torch.zeros(2, dtype=torch.long) if model.is_conditional else None
    model.eval()
    x = _call(model.name, "sample", lambda: model.sample(2, y) if y is not None else model.sample(2))
    model.train()
    want = (2, *data.spec.shape)
    if not isinstance(x, torch.Tensor) or tuple(x.shape) != want:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise PluginError(f"plugin '{model.name}': sample(2) must return a tensor of shape {want} (it returned {got}); {FIX}")


# ---------------------------------------------------------------- in the workers


def guard(model) -> None:
    """Wrap ``model``'s plugin hooks so that an error in their code while training is a
    :class:`PluginError` naming the plugin, the hook and the update (so it is not retried)."""
    name, forward = model.name, model.forward

    def checked_forward(batch, update="model"):
        losses = _call(name, f"forward for update '{update}'", lambda: forward(batch, update))
        problem = losses_problem(losses, need_grad=model.training and _grad_enabled())
        if problem:
            raise broken_losses(name, update, problem)
        return losses

    model.forward = checked_forward
    for hook in ("sample", "figures", "configure_optimizers", "begin_phase"):
        if callable(getattr(model, hook, None)):
            setattr(model, hook, _guarded(name, hook, getattr(model, hook)))


def _guarded(name: str, hook: str, method):
    def call(*args, **kwargs):
        return _call(name, hook, lambda: method(*args, **kwargs))

    return call


def _grad_enabled() -> bool:
    import torch

    return torch.is_grad_enabled()
