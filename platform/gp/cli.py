"""The ``gp`` command line (typer). Heavy modules are imported inside the commands."""
from __future__ import annotations

import sys
from typing import List, Optional

import typer

from gp.errors import GpError, first_line

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False,
                  help="Train generative models with Ray Train and MLflow.")  # plain help: rich doubles its start-up
plugins_app = typer.Typer(rich_markup_mode=None, help="List model plugins, or show one's config.")
app.add_typer(plugins_app, name="plugins")


@app.command(context_settings={"allow_extra_args": False})
def submit(
    overrides: Optional[List[str]] = typer.Argument(None, help="key=value overrides, e.g. plugin=aae trainer.epochs=3"),
    config: Optional[str] = typer.Option(None, "--config", "-c", help="YAML file under the overrides"),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster: http://HEAD:8265 submits a job through the Jobs API, HOST:PORT runs the driver here (default: RAY_ADDRESS, else a local Ray)"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="show Ray's own logs"),
    follow: bool = typer.Option(False, "--follow", "-f", help="with an http:// address: stream the job's logs until it ends (Ctrl-C stops the job)"),
):
    """Train a model: gp submit plugin=aae [key=value ...]."""
    from gp.remote import jobs_address, submit_job

    if jobs_address(address):
        submit_job(overrides or [], config, jobs_address(address), follow, verbose)
        return
    from gp.orchestrate import submit as run

    run_id = run(overrides or [], config, address, verbose)
    typer.echo(f"gp: run {run_id} finished; 'gp sample {run_id} --out grid.png' draws samples")


@plugins_app.callback(invoke_without_command=True)
def plugins(ctx: typer.Context):
    """Installed plugins: name, distribution, version, family, capabilities, load errors."""
    if ctx.invoked_subcommand:
        return
    from gp.commands import plugins_table

    typer.echo(plugins_table())


@plugins_app.command("show")
def plugins_show(name: str, everything: bool = typer.Option(False, "--all", help="also the trainer.* and data.* keys")):
    """A plugin's config: every key with its type, default and description."""
    from gp.commands import plugin_config

    typer.echo(plugin_config(name, everything))


@app.command()
def runs(experiment: str = typer.Option("gp", help="MLflow experiment"), limit: int = typer.Option(20, "-n"),
         sweep: Optional[str] = typer.Option(None, "--sweep", help="a sweep's run id: its trials, ranked")):
    """Recent runs: id, plugin, status and key metrics."""
    if sweep:
        from gp.sweep.report import sweep_table

        return typer.echo(sweep_table(sweep))
    from gp.commands import runs_table

    typer.echo(runs_table(experiment, limit))


@app.command()
def sample(
    run: str = typer.Argument(..., help="MLflow run id"),
    options: Optional[List[str]] = typer.Argument(None, help="n=64 seed=0, and y=3 or y=0,1,2 (class labels) for a conditional model"),
    out: str = typer.Option("samples.png", "--out", "-o", help="file to write: .png (a picture), .npy or .pt (the raw samples, shape (n, *data shape))"),
    scale: Optional[int] = typer.Option(None, "--scale", help="PNG: enlarge every pixel to SCALE x SCALE (default: enough for at least 256 px)"),
):
    """Draw samples from a run's checkpoint into a picture or an array file."""
    from gp.commands import sample_run

    typer.echo(sample_run(run, options or [], out, scale))


@app.command()
def ui(port: int = typer.Option(5000, min=1, max=65535, help="port on 127.0.0.1")):
    """Start the MLflow UI on gp's tracking store (stopping gp stops it)."""
    from gp.ui import serve_ui

    serve_ui(port)


# --- commands defined in their own modules (keep those modules' top-level imports light) ---
# (gp eval, gp jobs/logs/stop are added here as one line each.)
from gp.eval.command import eval_command; app.command(name="eval")(eval_command)  # noqa: E402,E702
from gp.sweep.command import sweep_command; app.command(name="sweep")(sweep_command)  # noqa: E402,E702
from gp.remote import jobs_command, logs_command, stop_command  # noqa: E402
app.command(name="jobs")(jobs_command)
app.command(name="logs")(logs_command)
app.command(name="stop")(stop_command)


def main() -> None:
    """Console entry point: user errors become one line and exit status 2; Ctrl-C and SIGTERM
    stop what gp started and exit 130 and 143 (gp.signals)."""
    from gp import signals

    try:
        signals.raise_on_sigterm()
        if app(standalone_mode=False) == 130:  # typer returns Ctrl-C (and so SIGTERM) as exit status 130
            raise KeyboardInterrupt
    except GpError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(2)
    except KeyboardInterrupt:
        typer.secho("terminated" if signals.exit_status() != 130 else "interrupted", err=True)
        sys.exit(signals.exit_status())
    except Exception as exc:  # click usage errors and anything unexpected: one line
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(signals.exit_status())
        typer.secho(f"error: {type(exc).__name__}: {first_line(exc)}", err=True, fg="red")
        sys.exit(1)
