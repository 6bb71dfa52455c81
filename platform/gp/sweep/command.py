"""``gp sweep KEY=DIST ... --trials N --metric NAME --mode min|max [--scheduler asha|fifo]``
and ``gp sweep resume=ID``. Only typer is imported here, so ``gp --help`` stays fast."""
from __future__ import annotations

from typing import List, Optional

import typer


def sweep_command(
    overrides: Optional[List[str]] = typer.Argument(None, help="key=value overrides; a value choice(a,b), grid(a,b), "
                                                    "uniform(lo,hi), loguniform(lo,hi) or randint(lo,hi) is searched; "
                                                    "resume=ID continues a sweep"),
    config: Optional[str] = typer.Option(None, "--config", "-c", help="YAML under the overrides (distributions allowed)"),
    trials: int = typer.Option(8, "--trials", help="trials in all (each grid point gets trials / grid size)"),
    metric: str = typer.Option("", "--metric", help="objective: a loss the model logs (epoch mean), or eval/fid, eval/kid, ..."),
    mode: str = typer.Option("min", "--mode", help="min or max"),
    scheduler: str = typer.Option("asha", "--scheduler", help="asha (stop poor trials early) or fifo (none)"),
    max_concurrent: Optional[int] = typer.Option(None, "--max-concurrent", help="trials at a time (default: CPUs / trainer.num_workers)"),
    eval_n: int = typer.Option(2000, "--eval-n", help="samples for an eval/* objective at each epoch end"),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster HOST:PORT (default: RAY_ADDRESS, else a local Ray)"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="show Ray's own logs"),
):
    """Search hyper-parameters with Ray Tune: one parent MLflow run, a child run per trial."""
    from gp.sweep.run import Options, sweep

    opts = Options(trials, metric, mode, scheduler, max_concurrent, eval_n, address, verbose)
    parent = sweep(overrides or [], config, opts)
    typer.echo(f"gp: sweep {parent} finished; 'gp runs --sweep {parent}' ranks its trials")
