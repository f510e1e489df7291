"""What every `cosim` command shares: its common options and the one error -> exit-code path."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tinyml_cosim.core.errors import CosimError

EngineOpt = Annotated[
    str | None,
    typer.Option("--engine", help="qemu or renode (default: $COSIM_ENGINE, then engine: in ./cosim.yaml, then qemu)"),
]
BoardOpt = Annotated[str, typer.Option("--board", "-b", help="board id (see `cosim boards`) or a board YAML file")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object instead of human output")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="directory for outputs (run.json, ...)")]


def fail(exc: CosimError) -> typer.Exit:
    """One line per line of the error on stderr, and the exit code its kind carries (2 bad input, 3 engine)."""
    for line in str(exc).splitlines():
        typer.echo(f"error: {line}", err=True)
    return typer.Exit(exc.exit_code)
