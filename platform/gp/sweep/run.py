"""The driver of ``gp sweep``: check everything -> start Ray -> the parent run -> Ray Tune
(ASHA or FIFO) over trials (:mod:`gp.sweep.trial`) -> the parent's summary.

Every input error is one line before Ray starts. The sweep's plan (fixed config, space,
objective) is stored on the parent run, so ``gp sweep resume=ID`` restores the Tune
experiment (``Tuner.restore``) without repeating finished trials.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile

from gp import signals, tracking
from gp.errors import GpError, first_line
from gp.sweep import space as spacemod

PLAN_TAG, PATH_TAG = "gp.sweep.plan", "gp.sweep.path"
FROZEN = ("plugin", "experiment", "recipe", "resume")


@dataclasses.dataclass
class Options:
    """The command line's sweep settings (beside the key=value overrides)."""

    trials: int = 8
    metric: str = ""
    mode: str = "min"
    scheduler: str = "asha"
    max_concurrent: int | None = None
    eval_n: int = 2000
    address: str | None = None
    verbose: bool = False


@dataclasses.dataclass
class Plan:
    """What a sweep runs (JSON on its parent run): everything but the live Ray objects."""

    raw: dict  # the fixed, parsed config
    space: dict  # dotted key -> distribution text
    objective: str
    mode: str
    scheduler: str
    samples: int  # Ray Tune num_samples (per grid point)
    trials: int
    epochs: int
    eval: tuple | None  # (gp eval metric, n) for an eval/* objective

    def dists(self) -> dict:
        return {k: spacemod.parse_value(k, v) for k, v in self.space.items()}


def sweep(overrides: list[str], file: str | None, opts: Options) -> str:
    """Run (or, with ``resume=ID``, resume) a sweep; return the parent run's id."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "INFO" if opts.verbose else "WARNING")
    resume = [o.partition("=")[2] for o in overrides if o.startswith("resume=")]
    if resume:
        return _resume(resume[0], overrides, opts)
    plan, registry = make_plan(overrides, file, opts)
    _init_ray(opts)
    workers = plan.raw.get("trainer", {}).get("num_workers", 1)
    concurrent = _concurrency(opts.max_concurrent, workers)
    if plan.eval:
        _prepare_reference(registry, plan)
    parent = _open_parent(plan, registry)
    print(f"gp: sweep {parent}: {plan.trials} trials, objective {plan.objective} ({plan.mode}), "
          f"{plan.scheduler}, {concurrent} at a time; tracking at {tracking.tracking_uri()}", flush=True)
    tuner = _tuner(plan, parent, concurrent)
    return _fit(tuner, plan, parent)


def make_plan(overrides: list[str], file: str | None, opts: Options) -> tuple[Plan, object]:
    """Parse and check the whole sweep (one line on any error); nothing starts here."""
    from gp.plugins import load_registry
    from gp.sweep.objective import check_metric, eval_metric

    spacemod.check_mode(opts.mode)
    spacemod.check_scheduler(opts.scheduler)
    space = spacemod.split(overrides, file)
    samples = spacemod.check_trials(space, opts.trials)
    raw = _fixed_raw(space)
    frozen = [k for k in space.searched if k.split(".")[0] in FROZEN]
    if frozen:
        raise GpError(f"{frozen[0]} cannot be searched; run one sweep per {frozen[0].split('.')[0]}")
    if not opts.metric:
        raise GpError("--metric is required (example: --metric eval/fid, or a loss such as model/loss)")
    registry = load_registry()
    job = _check_values(raw, space, registry)
    losses, caps = _losses(registry, job)
    evaluated = eval_metric(opts.metric, caps, *_data_traits(registry, job)) if opts.metric.startswith("eval/") else None
    objective = check_metric(opts.metric, losses, job.plugin, evaluated)
    plan = Plan(raw, {k: d.text() for k, d in space.searched.items()}, objective, opts.mode, opts.scheduler,
                samples, samples * space.grid_size, job.trainer.epochs, (evaluated[0], opts.eval_n) if evaluated else None)
    return plan, registry


def _fixed_raw(space: spacemod.Space) -> dict:
    """The fixed overrides over the YAML's fixed part, parsed as ``gp submit`` parses them."""
    import yaml

    from gp.config import parse

    if not space.fixed_yaml:
        return parse(space.fixed, None)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(space.fixed_yaml, f)
    try:
        return parse(space.fixed, f.name)
    finally:
        os.unlink(f.name)


def _check_values(raw: dict, space: spacemod.Space, registry):
    """Validate the config with each searched key at its extremes (unknown keys, bad values)."""
    from gp.config import validate
    from gp.sweep.trial import with_params

    extremes = {k: d.extremes() for k, d in space.searched.items()}
    job = None
    for i in range(max(len(v) for v in extremes.values())):
        params = {k: v[min(i, len(v) - 1)] for k, v in extremes.items()}
        checked, model_cfg = validate(with_params(raw, params), registry)
        checked.model = model_cfg.model_dump()
        job = job or checked
    return job


def _losses(registry, job) -> tuple[list[str], list[str]]:
    """(loss names the trials log, the model's capabilities), after gp submit's data check."""
    from gp.job import check_data
    from gp.model import capabilities
    from gp.sweep.objective import loss_names

    checked = check_data(registry, job)
    cls = registry.model(job.plugin)
    return loss_names(cls, cls.Config.model_validate(job.model), checked.data, job.trainer.epochs), capabilities(cls)


def _data_traits(registry, job) -> tuple[str, bool]:
    """(data kind, whether its test split declares modes), as gp eval reads them."""
    from gp.eval.reference import splits

    test = splits(registry, job.data)[1]
    return test.spec.kind, test.modes is not None


def _init_ray(opts: Options) -> None:
    import logging

    import ray

    from gp.orchestrate import LOCAL_RAY_ENV, RAY_ENV

    if opts.address and opts.address.startswith("http"):
        raise GpError("gp sweep drives Ray Tune from this machine: give --address HOST:PORT (the cluster's GCS), "
                      "not the Jobs API's http:// address")
    for key, value in {**RAY_ENV, **LOCAL_RAY_ENV}.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # trials log to MLflow, not CSV/JSON/TB
    if not opts.verbose:  # Tune's new console output prints a configuration box even at verbose=0
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    if ray.is_initialized():
        return
    level = logging.INFO if opts.verbose else logging.ERROR
    with signals.after_ray_init():
        ray.init(address=opts.address or os.environ.get("RAY_ADDRESS"), logging_level=level, log_to_driver=opts.verbose,
                 runtime_env={"env_vars": {k: os.environ[k] for k in RAY_ENV}})


def _concurrency(asked: int | None, workers: int) -> int:
    """Trials at a time: ``--max-concurrent``, else as many as the cluster's CPUs hold."""
    import ray

    cpus = int(ray.cluster_resources().get("CPU", 0))
    if workers > cpus:
        raise GpError(f"trainer.num_workers={workers} needs {workers} CPUs per trial but the Ray cluster has {cpus}; "
                      "lower trainer.num_workers or add nodes")
    if asked is not None and asked < 1:
        raise GpError("--max-concurrent must be at least 1")
    return asked or max(1, cpus // workers)


def _prepare_reference(registry, plan: Plan) -> None:
    """Find (or train, once) the reference classifier here, so trials load it from the cache."""
    from gp.config import DataConfig
    from gp.eval.reference import reference

    data = DataConfig(**plan.raw.get("data", {}))
    if registry.dataset(data.name)(data, "test").spec.kind == "image":
        reference(registry, data)


def _open_parent(plan: Plan, registry) -> str:
    """The sweep's parent run: fixed params, the search space, the plan (for resume)."""
    from gp.sweep.report import create_parent

    return create_parent(plan, registry, _storage(), PLAN_TAG, PATH_TAG)


def _storage() -> str:
    return os.environ.get("GP_STORAGE_PATH") or str(tracking.home() / "ray_results" / "sweeps")


def trial_setup(plan: Plan, parent: str) -> dict:
    """What every trial needs besides its sampled values (shipped once through the object store)."""
    from gp.sweep.epoch_eval import EpochEval

    data = plan.raw.get("data", {})
    epoch_eval = EpochEval(plan.eval[0], data, plan.eval[1]) if plan.eval else None
    return {"raw": plan.raw, "parent": parent, "uri": tracking.tracking_uri(), "storage": _storage(),
            "epoch_eval": epoch_eval}


def _trainable(plan: Plan, parent: str):
    from ray import tune

    from gp.sweep.trial import run_trial

    # The trial's own process only waits on its Train workers, which hold the CPUs.
    return tune.with_resources(tune.with_parameters(run_trial, setup=trial_setup(plan, parent)),
                               {"CPU": 0, "memory": 64 * 2**20})  # no CPU; Ray needs some resource


def _tuner(plan: Plan, parent: str, concurrent: int):
    from ray import tune

    from gp.sweep.recorder import Recorder

    scheduler = None
    if plan.scheduler == "asha":
        from ray.tune.schedulers import ASHAScheduler

        scheduler = ASHAScheduler(time_attr="epoch", max_t=plan.epochs, grace_period=1, reduction_factor=2)
    return tune.Tuner(
        _trainable(plan, parent),
        param_space={"params": {k: d.to_tune() for k, d in plan.dists().items()}},
        tune_config=tune.TuneConfig(metric=plan.objective, mode=plan.mode, num_samples=plan.samples,
                                    max_concurrent_trials=concurrent, scheduler=scheduler),
        run_config=tune.RunConfig(name=parent, storage_path=_storage(), verbose=0,
                                  callbacks=[Recorder(parent, tracking.tracking_uri(), plan.objective, plan.epochs)]),
    )


def _fit(tuner, plan: Plan, parent: str) -> str:
    """Run the trials; conclude the parent, or end it KILLED (resumable) when interrupted."""
    from gp.sweep.report import conclude, interrupted

    try:
        grid = tuner.fit()
    except KeyboardInterrupt:  # SIGTERM (gp.signals), or a second Ctrl-C
        interrupted(parent, None, plan.trials)
        raise
    except Exception as exc:
        tracking.client().set_tag(parent, "gp.failure", first_line(exc))
        tracking.client().set_terminated(parent, "FAILED")
        raise GpError(f"sweep {parent} failed: {first_line(exc)}") from None
    if interrupted(parent, grid, plan.trials):
        raise KeyboardInterrupt
    return conclude(parent, plan, grid)


def _resume(parent: str, overrides: list[str], opts: Options) -> str:
    """Restore sweep ``parent``'s Tune experiment: unfinished trials continue, finished ones stay."""
    from ray import tune

    if len(overrides) > 1:
        raise GpError("gp sweep resume=ID takes no other key=value; the sweep keeps its plan")
    c = tracking.client()
    try:
        tags = c.get_run(parent).data.tags
    except Exception:
        raise GpError(f"sweep {parent} not found in {tracking.tracking_uri()}; 'gp runs' lists runs") from None
    if PLAN_TAG not in tags:
        raise GpError(f"run {parent} is not a sweep; 'gp submit resume={parent}' resumes a single run")
    plan = Plan(**json.loads(tags[PLAN_TAG]))
    path = tags[PATH_TAG]
    if not tune.Tuner.can_restore(path):
        raise GpError(f"sweep {parent}'s Ray Tune state is gone from {path}; start a new sweep")
    _init_ray(opts)
    c.update_run(parent, status="RUNNING")
    print(f"gp: resuming sweep {parent} from {path}", flush=True)
    tuner = tune.Tuner.restore(path, _trainable(plan, parent), resume_unfinished=True, resume_errored=False)
    return _fit(tuner, plan, parent)
