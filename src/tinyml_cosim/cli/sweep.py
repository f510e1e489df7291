"""`cosim sweep validate|plan|run|report SWEEP.yaml`: the typer front of tinyml_cosim.sweep (docs/sweeps.md).

Dask is imported only by `run` (tinyml_cosim.sweep.execute): without the sweep extra, validate, plan and report
work and `run` says in one line how to get it (exit 2)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from tinyml_cosim.cli.common import EngineOpt, fail, int_in, seconds
from tinyml_cosim.core.errors import EXIT_BAD_INPUT, EXIT_ENGINE_ERROR, EXIT_FAILED, CosimError

app = typer.Typer(
    help="Sweeps: a base scenario over impairments, seeds, boards, kernels and models, on Dask.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")
DEFAULT_SWEEPS_DIR = Path("reports") / "sweeps"

SweepArg = Annotated[Path, typer.Argument(help="sweep YAML file")]
OutDirOpt = Annotated[
    Path | None, typer.Option("--out", help="sweep output directory (default: reports/sweeps/<sweep file stem>)")
]


def _guard(fn: Callable[[], T]) -> T:
    """Our errors to their exit codes; anything unexpected to exit 3 with one line, never a traceback."""
    try:
        return fn()
    except CosimError as exc:
        raise fail(exc) from None
    except (typer.Exit, KeyboardInterrupt):
        raise
    except Exception as exc:
        typer.echo(f"error: internal error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(EXIT_ENGINE_ERROR) from None


def _out(sweep: Path, out: Path | None) -> Path:
    return out if out is not None else DEFAULT_SWEEPS_DIR / sweep.stem


@app.command()
def validate(sweep: SweepArg, engine: EngineOpt = None) -> None:
    """Check a sweep file, its base scenario and every point's scenario (exit 2 with file:line errors)."""
    from tinyml_cosim.sweep.plan import plan_sweep

    plan = _guard(lambda: plan_sweep(sweep, engine))
    typer.echo(
        f"{sweep}: ok: {len(plan.points)} point(s) ({plan.excluded} excluded), "
        f"{len(plan.builds)} firmware build configuration(s), {len(plan.expectations)} expectation(s)"
    )


@app.command()
def plan(
    sweep: SweepArg,
    out: OutDirOpt = None,
    engine: EngineOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the points as JSON")] = False,
) -> None:
    """List the points with their hashes, and which are already done under --out."""
    from tinyml_cosim.sweep.plan import plan_sweep
    from tinyml_cosim.sweep.store import PointStore

    p = _guard(lambda: plan_sweep(sweep, engine))
    store = PointStore(_out(sweep, out))
    items: list[dict[str, Any]] = []
    for pt in p.points:
        doc = store.load(pt.hash)
        state = "todo" if doc is None else str(doc.get("status"))
        items.append({"index": pt.index, "hash": pt.hash, "state": state, "values": pt.values, "build": pt.build.label})
    if json_out:
        typer.echo(json.dumps({"sweep": p.name, "points": items, "excluded": p.excluded}, indent=2, default=str))
        return
    for it in items:
        values = ", ".join(f"{k}={v}" for k, v in it["values"].items())
        typer.echo(f"{it['index']:4d} {it['hash']} {it['state']:5} {values}")
    done = sum(it["state"] == "done" for it in items)
    typer.echo(f"{len(items)} point(s), {done} done, {p.excluded} excluded, {len(p.builds)} build(s)")


@app.command()
def run(
    sweep: SweepArg,
    out: OutDirOpt = None,
    engine: EngineOpt = None,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="run on an existing Dask scheduler, tcp://HOST:PORT")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="LocalCluster worker processes (default: one per core)",
            callback=int_in("--workers", 1, 1024),
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="wall-clock bound per point, seconds", callback=seconds("--timeout")),
    ] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="the progress bar on stderr")] = True,
) -> None:
    """Run every point not yet done under --out, then write the results table and the report."""
    from tinyml_cosim.sweep.execute import require_dask, run_sweep
    from tinyml_cosim.sweep.outputs import write_outputs
    from tinyml_cosim.sweep.plan import plan_sweep

    _guard(require_dask)
    p = _guard(lambda: plan_sweep(sweep, engine))
    target = _out(sweep, out)
    say = lambda line: typer.echo(line, err=True)  # noqa: E731
    try:
        stats = _guard(
            lambda: run_sweep(
                p,
                target,
                scheduler=scheduler,
                workers=workers,
                timeout_s=timeout,
                engine=engine,
                progress=progress and sys.stderr.isatty(),
                echo=say,
            )
        )
    except (typer.Exit, KeyboardInterrupt) as exc:
        # Interrupted or failed: what finished is stored; the table and the page show it.
        if (target / "points").is_dir():
            _guard(lambda: write_outputs(p, target, {"stopped": "interrupted or failed"}))
        if isinstance(exc, KeyboardInterrupt):
            say(f"interrupted: finished points kept under {target}/points")
            raise typer.Exit(EXIT_FAILED) from None
        raise
    info = {
        "points run now": stats.ran,
        "skipped (stored)": stats.skipped,
        "firmware builds": f"{stats.builds} ({stats.rebuilt} compiled now)",
        "workers": stats.workers,
        "wall time": f"{stats.wall_s:.1f} s",
    }
    outputs = _guard(lambda: write_outputs(p, target, info))
    for line in stats.error_points[:10]:
        say(f"error point: {line}")
    for line in outputs.summary_lines():
        typer.echo(line)
    typer.echo(f"wall time {stats.wall_s:.1f} s for {stats.ran} point(s) on {stats.workers} worker(s)")
    raise typer.Exit(outputs.exit_code)


@app.command()
def report(sweep: SweepArg, out: OutDirOpt = None, engine: EngineOpt = None) -> None:
    """Write the results table and report.html from the stored points, check the expectations (exit 1 on one)."""
    from tinyml_cosim.sweep.outputs import write_outputs
    from tinyml_cosim.sweep.plan import plan_sweep

    p = _guard(lambda: plan_sweep(sweep, engine))
    target = _out(sweep, out)
    if not (target / "points").is_dir():
        typer.echo(f"error: {target}: no sweep results here (run `cosim sweep run {sweep} --out {target}`)", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    outputs = _guard(lambda: write_outputs(p, target))
    for line in outputs.summary_lines():
        typer.echo(line)
    raise typer.Exit(outputs.exit_code)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
