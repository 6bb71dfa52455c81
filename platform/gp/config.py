"""Job configuration: ``key=value`` overrides and YAML parsed by OmegaConf, validated by pydantic.

Every error is a :class:`GpError` of one line naming the key and, for unknown keys, the
closest valid names.
"""
from __future__ import annotations

from typing import Literal

import pydantic
from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt

from gp.errors import GpError, first_line, unknown

_STRICT = pydantic.ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(pydantic.BaseModel):
    """Which dataset to train on (``data=NAME`` is short for ``data.name=NAME``).

    These keys are common to every dataset; a dataset's own keys (``data.root``,
    ``data.kind``, ...) are declared by the dataset (:mod:`gp.data.options`), checked by
    :func:`validate` and kept as extra attributes, so ``cfg.kind`` reads like a field.
    """

    model_config = pydantic.ConfigDict(extra="allow", validate_assignment=True)
    name: str = Field("fashion-mnist", description="registered dataset name (gp plugins lists them)")
    limit: PositiveInt | None = Field(None, description="use only the first N training examples")
    labelled: PositiveInt | None = Field(None, description="keep N training labels (balanced by class); the rest become -1")
    label_seed: int = Field(0, description="seed of the draw of the labels data.labelled keeps")


class TrainerConfig(pydantic.BaseModel):
    """How to train: the loop's settings, shared by every model."""

    model_config = _STRICT
    epochs: PositiveInt = Field(5, description="passes over the training data")
    batch_size: PositiveInt = Field(128, description="global batch size, split across workers")
    num_workers: PositiveInt = Field(1, description="Ray Train workers (processes)")
    use_gpu: bool = Field(False, description="one GPU per worker")
    threads: PositiveInt | None = Field(None, description="torch threads per worker (default: CPUs / workers)")
    seed: int = Field(0, description="random seed")
    precision: Literal["fp32", "bf16"] = Field("fp32", description="bf16 runs forward passes under autocast")
    grad_clip: PositiveFloat | None = Field(None, description="clip each update's gradient norm to this value")
    log_every: PositiveInt = Field(10, description="steps between loss read-backs (every step is logged)")
    samples: PositiveInt = Field(64, description="samples in the per-epoch image grid")
    steps_per_epoch: PositiveInt | None = Field(None, description="cap on steps per epoch")
    max_failures: NonNegativeInt = Field(2, description="worker-group restarts from the last checkpoint")
    checkpoint_every_s: PositiveFloat = Field(
        60.0, description="seconds between checkpoints within an epoch (a failure redoes at most about this much)")
    checkpoint_every_steps: PositiveInt | None = Field(
        None, description="also checkpoint every this many steps (besides every epoch's end)")
    grad_sync: Literal["updates", "ddp"] = Field(
        "updates", description="with several workers: average each update's gradients in one all-reduce, or torch DDP")
    cuda_graph: bool | Literal["auto"] = Field(
        "auto", description="capture each training step in one CUDA graph on a GPU (auto: where the model allows)")
    channels_last: bool | Literal["auto"] = Field(
        "auto", description="channels-last weights and activations (auto: for models with 2-D convolutions)")


class JobConfig(pydantic.BaseModel):
    """A whole job. ``model`` is validated against the plugin's own ``Config``."""

    model_config = _STRICT
    plugin: str = Field(..., description="model plugin name")
    model: dict = Field(default_factory=dict, description="the plugin's config overrides")
    data: DataConfig = Field(default_factory=DataConfig)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    experiment: str = Field("gp", description="MLflow experiment name")
    resume: str | None = Field(None, description="MLflow run id of a stopped run to continue")
    recipe: str | None = Field(None, description="the plugin's named settings under the overrides (gp plugins show NAME)")


def parse(overrides: list[str], file: str | None = None) -> dict:
    """Merge a YAML file and dotted ``key=value`` overrides into a plain dict."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        base = OmegaConf.load(file) if file else OmegaConf.create()
        bad = [o for o in overrides if "=" not in o]
        if bad:
            raise GpError(f"override '{bad[0]}' is not key=value (example: trainer.epochs=3)")
        if isinstance(base.get("data"), str):
            base.data = {"name": base.data}
        dotlist = [_data_name(o) for o in overrides]
        merged = OmegaConf.merge(base, OmegaConf.from_dotlist(dotlist))
        raw = OmegaConf.to_container(merged, resolve=True)
    except (OmegaConfBaseException, OSError, ValueError) as exc:
        raise GpError(f"cannot parse configuration: {first_line(exc)}") from None
    return raw


def _data_name(override: str) -> str:
    """``data=NAME`` -> ``data.name=NAME``, so it combines with ``data.*`` keys in any order."""
    key, value = override.split("=", 1)
    return f"data.name={value}" if key.strip() == "data" else override


def validate(raw: dict, registry) -> tuple[JobConfig, pydantic.BaseModel]:
    """Validate the job (on top of its recipe, if it names one) and the plugin's model
    config; return both."""
    from gp.recipes import apply

    if raw.get("plugin") and raw.get("recipe"):
        raw = apply(raw, registry.model(raw["plugin"]))
    job = _check(JobConfig, raw, "")
    cls = registry.model(job.plugin)
    check_data_options(job.data, registry)
    return job, _check(cls.Config, job.model, "model.")


def check_data_options(data: DataConfig, registry) -> DataConfig:
    """Validate ``data``'s dataset-specific keys against the options its dataset declares
    and fill in their defaults (in place); a key the dataset does not take is one line."""
    options = registry.dataset_options(data.name)
    given = dict(data.model_extra or {})
    takes = sorted(f"data.{k}" for k in options.model_fields)
    for key in given:
        if key not in options.model_fields:
            raise _not_taken(data.name, key, takes)
    for key, value in _check(options, given, "data.").model_dump().items():
        setattr(data, key, value)
    return data


def _not_taken(dataset: str, key: str, takes: list[str]) -> GpError:
    import difflib

    common = [f"data.{k}" for k in DataConfig.model_fields]
    close = difflib.get_close_matches(f"data.{key}", takes + common, n=1, cutoff=0.8)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return GpError(f"dataset {dataset} does not take 'data.{key}' (its own keys: {', '.join(takes) or 'none'}; "
                   f"every dataset takes {', '.join(common)}){hint}")


def data_options(data: DataConfig) -> dict:
    """The dataset-specific keys of ``data`` (what identifies its data beside the name)."""
    return dict(data.model_extra or {})


def _check(model_cls, raw: dict, prefix: str):
    try:
        return model_cls.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise _one_line(exc, model_cls, prefix) from None


def _one_line(exc: pydantic.ValidationError, model_cls, prefix: str) -> GpError:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    key = prefix + ".".join(loc)
    if err["type"] == "extra_forbidden":
        return unknown("key", key, _valid_keys(model_cls, loc[:-1], prefix))
    if err["type"] == "missing":
        return GpError(f"missing required key '{key}' (example: {key}=...)")
    return GpError(f"bad value for '{key}': {err['msg']} (got {err.get('input')!r})")


def _valid_keys(model_cls, parents: list[str], prefix: str) -> list[str]:
    for p in parents:
        model_cls = model_cls.model_fields[p].annotation
    base = prefix + "".join(f"{p}." for p in parents)
    return [base + k for k in model_cls.model_fields]


def flatten(d: dict, prefix: str = "") -> dict[str, object]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``, for MLflow params."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
