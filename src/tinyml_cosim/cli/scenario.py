"""`cosim scenario ...`: validate, export and render scenario files (a typer sub-app of cli.app)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from tinyml_cosim.cli.common import INT63_MAX, int_in
from tinyml_cosim.core.errors import EXIT_BAD_INPUT, EXIT_ENGINE_ERROR, BadInput, CosimError
from tinyml_cosim.core.report_dir import check_output_folder

app = typer.Typer(
    help="Scenario files: sensors, signals, impairments and a labelled timeline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")


class ExportFormat(str, Enum):
    npy = "npy"
    csv = "csv"
    resd = "resd"


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _guard(fn: Callable[[], T]) -> T:
    """Turn our errors into their exit codes and anything unexpected into exit 3, never into a traceback."""
    try:
        return fn()
    except CosimError as exc:
        _err(str(exc))
        raise typer.Exit(exc.exit_code) from None
    except typer.Exit:
        raise
    except Exception as exc:
        _err(f"internal error: {exc.__class__.__name__}: {exc}")
        raise typer.Exit(EXIT_ENGINE_ERROR) from None


SeedOpt = Annotated[
    int | None,
    typer.Option("--seed", help="override the scenario's seed", callback=int_in("--seed", 0, INT63_MAX)),
]


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="scenario YAML files")]) -> None:
    """Check scenario files; print `file:line: field: problem` for each problem (exit 2 if any)."""
    # lazy: the scenario model (numpy, the sensor library) loads when a scenario command runs, not with every
    # `cosim` command (this sub-app is mounted for all but the core ones, see cli.app.CORE_COMMANDS)
    from tinyml_cosim.scenario.load import problems

    def run() -> None:
        bad = 0
        for path in files:
            try:
                found = problems(path)
            except BadInput as exc:  # unreadable or not YAML at all: report it and go on with the next file
                found = str(exc).splitlines()
            if found:
                bad += 1
                for line in found:
                    _err(line)
            else:
                print(f"{path}: ok")
        if bad:
            raise typer.Exit(EXIT_BAD_INPUT)

    _guard(run)


@app.command()
def export(
    file: Annotated[Path, typer.Argument(help="scenario YAML file")],
    out: Annotated[Path, typer.Option("--out", help="output folder")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="npy, csv or resd")] = ExportFormat.npy,
    seed: SeedOpt = None,
) -> None:
    """Write each sensor's sample stream and the label timeline; print the streams' SHA-256."""
    from tinyml_cosim.scenario.export import export as do_export  # lazy: see validate
    from tinyml_cosim.scenario.load import load_scenario

    def run() -> None:
        scn = load_scenario(file)
        check_output_folder(out)  # the streams' files are written into it; nothing else there is touched
        result = do_export(scn, out, fmt.value, seed)
        for note in result.notes:
            _err(f"note: {note}")
        for sid, digest in result.hashes.items():
            print(f"{digest}  {sid}")
        print(f"{result.total_hash}  (all streams)")

    _guard(run)


@app.command()
def render(
    file: Annotated[Path, typer.Argument(help="scenario YAML file")],
    output: Annotated[Path, typer.Option("-o", "--output", help="image file (.png, .svg, .pdf)")],
    seed: SeedOpt = None,
) -> None:
    """Plot every channel with label bands and impairment windows."""
    from tinyml_cosim.scenario.load import load_scenario  # lazy: see validate (render adds matplotlib)
    from tinyml_cosim.scenario.render import render as do_render

    def run() -> None:
        scn = load_scenario(file)
        do_render(scn, scn.generate(seed), output, seed)
        print(output)

    _guard(run)
