"""Config keys as ``gp plugins show`` prints them: key, readable type, default, description.

Read generically from pydantic models, so a config that gains or loses fields needs no
change here. Types read the way they are written on the command line: ``Literal`` as its
choices (``fp32|bf16``), unions joined by ``|`` (``bool|auto``, ``int|None``), constrained
types as their base type.
"""
from __future__ import annotations

import types
import typing

import pydantic
from pydantic_core import PydanticUndefined


def type_name(annotation) -> str:
    """A readable name for a field's annotation."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return "|".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return "|".join(type_name(a) for a in args)
    if origin is typing.Annotated:
        return type_name(args[0])
    if annotation is type(None):
        return "None"
    if origin is not None:
        return getattr(origin, "__name__", str(origin))
    return getattr(annotation, "__name__", str(annotation))


def rows(model: type[pydantic.BaseModel], prefix: str = "") -> list[list]:
    """[key, type, default, description] of every field, nested models flattened (``a.b``)."""
    out = []
    for key, field in model.model_fields.items():
        if _is_model(field.annotation):
            out += rows(field.annotation, f"{prefix}{key}.")
        else:
            out.append([prefix + key, type_name(field.annotation), _default(field), field.description or ""])
    return out


def _is_model(annotation) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)


def _default(field) -> object:
    if field.default is not PydanticUndefined:
        return field.default
    return "(required)" if field.default_factory is None else field.default_factory()


def dataset_rows(registry) -> list[list]:
    """The ``data.*`` keys datasets declare for themselves (``name, name: description``),
    one row per distinct key; none where the registry has no per-dataset options."""
    options = getattr(registry, "dataset_options", None)
    merged: dict[tuple, list[str]] = {}
    for name in sorted(registry.datasets) if options else []:
        for key, typ, default, desc in rows(options(name), "data."):
            merged.setdefault((key, typ, str(default), desc), []).append(name)
    return [[key, typ, default, f"{', '.join(names)}: {desc}"]
            for (key, typ, default, desc), names in sorted(merged.items())]
