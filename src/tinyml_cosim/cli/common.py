"""What every `cosim` command shares: its common options, the range checks of numeric options and the one
error -> exit-code path."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from tinyml_cosim.core.errors import EXIT_BAD_INPUT, CosimError

EngineOpt = Annotated[
    str | None,
    typer.Option("--engine", help="qemu or renode (default: $COSIM_ENGINE, then engine: in ./cosim.yaml, then qemu)"),
]
BoardOpt = Annotated[str, typer.Option("--board", "-b", help="board id (see `cosim boards`) or a board YAML file")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object instead of human output")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="directory for outputs (run.json, ...)")]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="write into an --out directory that is not a tinyml-cosim report: only the tool's own file names are "
        "replaced, every other entry is kept",
    ),
]

# Counters (instructions, seeds, windows) are 64-bit signed on every path they take (QMP, the plugin's page, JSON
# readers in other languages): larger values are refused here rather than wrapped or overflowed further down.
INT63_MAX = 2**63 - 1
# Wall-clock and simulated seconds: 10^6 s (11.6 days) is beyond any run this tool is for; larger finite values
# overflow timers (threading waits refuse more than ~2^31 s) and instruction budgets.
MAX_SECONDS = 1e6
MAX_PORT = 65535


def bad_option(option: str, value: object, want: str) -> typer.Exit:
    """One `error: OPTION VALUE: want` line on stderr; the exit for bad input (2)."""
    typer.echo(f"error: {option} {value}: {want}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


def int_in(option: str, lo: int, hi: int, why: str = "") -> Callable[[int | None], int | None]:
    """A typer callback: the integer option is None or within lo..hi, else one line and exit 2."""

    def check(value: int | None) -> int | None:
        if value is not None and not lo <= value <= hi:
            raise bad_option(option, value, f"give an integer from {lo} to {hi}{f' ({why})' if why else ''}")
        return value

    return check


def float_in(
    option: str, lo: float, hi: float, *, lo_open: bool = False, unit: str = ""
) -> Callable[[float | None], float | None]:
    """A typer callback: the number is None or finite and within lo..hi (lo excluded with `lo_open`), else one line
    and exit 2. NaN and infinities are refused by name: click parses them as floats."""
    low = f"> {lo:g}" if lo_open else f">= {lo:g}"
    want = f"give a finite number {low} and <= {hi:g}{f' {unit}' if unit else ''}"

    def check(value: float | None) -> float | None:
        if value is None:
            return None
        if not math.isfinite(value) or value > hi or value < lo or (lo_open and value == lo):
            raise bad_option(option, value, want)
        return value

    return check


def seconds(option: str, what: str = "seconds") -> Callable[[float | None], float | None]:
    """Seconds > 0, finite, at most MAX_SECONDS."""
    return float_in(option, 0.0, MAX_SECONDS, lo_open=True, unit=what)


def port(option: str = "--port") -> Callable[[int | None], int | None]:
    return int_in(option, 1, MAX_PORT, "a TCP port")


def fail(exc: CosimError) -> typer.Exit:
    """One line per line of the error on stderr, and the exit code its kind carries (2 bad input, 3 engine)."""
    for line in str(exc).splitlines():
        typer.echo(f"error: {line}", err=True)
    return typer.Exit(exc.exit_code)
