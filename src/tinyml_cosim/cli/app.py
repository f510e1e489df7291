"""`cosim`: a thin typer layer over the Python API. Exit codes, the same for every command:
0 success; 1 the firmware failed (non-zero exit, fault, lockup, hang, timeout) or an expectation failed;
2 bad input or usage; 3 engine or internal error.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from tinyml_cosim.cli import debugging
from tinyml_cosim.cli.common import (
    INT63_MAX,
    BoardOpt,
    EngineOpt,
    ForceOpt,
    JsonOpt,
    OutOpt,
    float_in,
    int_in,
    seconds,
)
from tinyml_cosim.cli.common import fail as _fail
from tinyml_cosim.cli.common import port as port_in
from tinyml_cosim.core.errors import EXIT_BAD_INPUT, EXIT_ENGINE_ERROR, EXIT_FAILED, EXIT_OK, CosimError
from tinyml_cosim.core.report_dir import report_dir
from tinyml_cosim.core.run_limits import DEFAULT_HANG_WALL_S, MAX_SEEDS, MAX_THRESHOLD_PCT

app = typer.Typer(
    name="cosim",
    help="Run and verify int8 ML firmware on emulated STM32 boards (QEMU, Renode).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def boards(json_out: JsonOpt = False) -> None:
    """List the boards with their memory limits, clock and engines."""
    # Lazy imports in this module are deliberate: each command loads its own implementation when it runs, so that
    # `cosim run ELF` pays only for the run path (see CORE_COMMANDS below and tests/test_startup.py).
    from tinyml_cosim.core.boards import available_boards, load_board

    try:
        items = [load_board(b) for b in available_boards()]
    except CosimError as exc:
        raise _fail(exc) from None
    if json_out:
        # `silicon:` is excluded from the board's dump (it is no part of the build key), but people asking about
        # a board want its calibration too.
        payload = [
            {**b.model_dump(mode="json"), "silicon": b.silicon.model_dump(mode="json") if b.silicon else None}
            for b in items
        ]
        typer.echo(json.dumps(payload, indent=2))
        return
    from rich.console import Console  # lazy: only the table needs rich
    from rich.table import Table

    table = Table("board", "MCU", "core", "clock", "flash", "RAM", "qemu", "renode")
    for b in items:
        q, r = b.engines.qemu, b.engines.renode
        renode = "no: " + r.unsupported.split(";")[0] if r and r.unsupported else (r.platform if r else "-")
        qemu = "no: " + q.unsupported.split(";")[0] if q and q.unsupported else (q.machine if q else "-")
        table.add_row(
            b.id,
            b.mcu,
            b.core + ("F" if b.fpu else ""),
            f"{b.mips} MHz",
            f"{b.memory.flash.size // 1024} KiB",
            f"{b.memory.ram.size // 1024} KiB",
            qemu,
            renode,
        )
    Console().print(table)


@app.command()
def build(
    board: BoardOpt,
    app_name: Annotated[str, typer.Option("--app", help="firmware app (a directory under firmware/apps)")] = "demo",
    kernels: Annotated[
        str, typer.Option("--kernels", help="ref (own kernels) or cmsis-nn (needs CMSIS_NN_DIR)")
    ] = "ref",
    model: Annotated[
        Path | None,
        typer.Option("--model", help="int8 .tflite for an app that runs a model (default: the app's app.yaml)"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="build root (default: $COSIM_BUILD_DIR, else the user's cache)")
    ] = None,
    app_dir: Annotated[
        Path | None,
        typer.Option("--app-dir", help="a directory holding app directories, searched for --app before firmware/apps"),
    ] = None,
) -> None:
    """Build a firmware app for a board; prints the ELF's path.

    The ELF is <root>/<board>/<app>-<hash>/app.elf, reused while nothing that changes the binary changes. The root is
    --out, else $COSIM_BUILD_DIR, else the per-user cache directory (~/.cache/tinyml-cosim/build on Linux), never the
    installed package. `make` in a checkout sets COSIM_BUILD_DIR to the checkout's build/.
    """
    from tinyml_cosim.build.firmware import build as do_build  # lazy: this command's implementation
    from tinyml_cosim.core.boards import load_board

    try:
        result = do_build(
            load_board(board), app_name, kernels=kernels, out_root=out, model=model,
            app_dirs=(app_dir,) if app_dir is not None else (),
        )  # fmt: skip
    except CosimError as exc:
        raise _fail(exc) from None
    typer.echo(str(result.elf))


@app.command()
def run(
    elf: Annotated[Path, typer.Argument(help="firmware ELF to run, or a scenario YAML file (.yaml/.yml)")],
    board: Annotated[
        str | None, typer.Option("--board", "-b", help="board id or board YAML (ELF only; a scenario names its board)")
    ] = None,
    engine: EngineOpt = None,
    max_instructions: Annotated[
        int | None,
        typer.Option(
            "--max-instructions",
            help="stop after N instructions (budget_reached)",
            callback=int_in("--max-instructions", 1, INT63_MAX),
        ),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration", help="stop after S simulated seconds", callback=seconds("--duration", "simulated seconds")
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="wall-clock backstop in seconds", callback=seconds("--timeout")),
    ] = None,
    hang_instructions: Annotated[
        int,
        typer.Option(
            "--hang-instructions",
            help="no console/protocol progress for N instructions is a hang",
            callback=int_in("--hang-instructions", 1, INT63_MAX),
        ),
    ] = 2_000_000_000,
    hang_seconds: Annotated[
        float,
        typer.Option(
            "--hang-seconds",
            help="firmware without the cosim runtime: no console line for S wall-clock seconds with the PC in one "
            "small loop is a hang, polled register named (default 30)",
            callback=seconds("--hang-seconds"),
        ),
    ] = DEFAULT_HANG_WALL_S,
    json_out: JsonOpt = False,
    out: OutOpt = None,
    measure: Annotated[
        list[str] | None,
        typer.Option(
            "--measure",
            help="count the instructions of every call of this function (repeatable; QEMU); a symbol or a C++ name "
            "such as 'tflite::MicroInterpreter::Invoke()' (the parameter list may be left out when unambiguous)",
        ),
    ] = None,
    stack_region: Annotated[
        str | None,
        typer.Option(
            "--stack-region",
            help="START:SIZE of the stack to paint and measure (firmware without cosim.h; default: from the ELF's "
            "stack symbols or the vector table's initial SP)",
        ),
    ] = None,
    cycles: Annotated[
        bool | None,
        typer.Option(
            "--cycles/--no-cycles",
            help="estimate silicon cycles of the exact binary with the board's cycle model beside the exact "
            "instruction counts (QEMU; an estimate, never the time base). Default: on unless COSIM_CYCLES=off "
            "(which scenarios follow)",
        ),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(
            "--seeds",
            help=f"scenario only: run N seeds, with 95 % CIs (1 to {MAX_SEEDS})",
            callback=int_in("--seeds", 1, MAX_SEEDS, "each seed is one whole emulated run of the scenario"),
        ),
    ] = None,
    replay: Annotated[
        Path | None, typer.Option("--replay", help="scenario only: re-evaluate the recorded runs of a report directory")
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="scenario only: compare with an earlier report.json")
    ] = None,
    baseline_threshold: Annotated[
        float | None,
        typer.Option(
            "--baseline-threshold",
            help="scenario only: growth in % that fails (default 2)",
            callback=float_in("--baseline-threshold", 0.0, MAX_THRESHOLD_PCT, unit="%"),
        ),
    ] = None,
    gdb: Annotated[
        bool, typer.Option("--gdb", help="scenario only: start the run halted under a GDB server (see cosim debug)")
    ] = False,
    port: Annotated[
        int | None, typer.Option("--port", help="scenario only: GDB server port with --gdb", callback=port_in())
    ] = None,
    kernels: Annotated[
        str | None, typer.Option("--kernels", help="scenario only: build its app with ref or cmsis-nn kernels")
    ] = None,
    force: ForceOpt = False,
    app_dir: Annotated[
        Path | None,
        typer.Option("--app-dir", help="scenario only: a directory of app directories its `app:` may name"),
    ] = None,
    allow_root: Annotated[
        list[Path] | None,
        typer.Option("--allow-root", help="scenario only: a directory its CSV/WAV/model files may also come from"),
    ] = None,
) -> None:
    """Run a firmware ELF and report how it ended, or run a scenario and check its expectations (exit 0 only when
    it succeeded / every expectation holds)."""
    if is_scenario_path(elf):
        given = [n for n, v in (("--board", board), ("--max-instructions", max_instructions),
                                ("--duration", duration)) if v is not None]  # fmt: skip
        if given:
            typer.echo(f"error: {', '.join(given)}: a scenario sets its own board and duration", err=True)
            raise typer.Exit(EXIT_BAD_INPUT)
        # lazy: the scenario path (orchestration, verdicts, reports, a process pool) only for a scenario file
        from tinyml_cosim.cli.scenario_run import run_scenario_command

        run_scenario_command(
            elf, engine=engine, out=out, seeds=seeds or 1, json_out=json_out, timeout=timeout, replay=replay,
            baseline=baseline, baseline_threshold=2.0 if baseline_threshold is None else baseline_threshold,
            gdb=gdb, port=port, kernels=kernels, force=force, app_dir=app_dir, allow_root=allow_root,
        )  # fmt: skip
    if app_dir is not None or allow_root:
        typer.echo("error: --app-dir and --allow-root apply to scenario files only", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    if board is None:
        typer.echo("error: --board is required to run an ELF (see `cosim boards`)", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    if seeds is not None or replay is not None or baseline is not None or baseline_threshold is not None or kernels:
        typer.echo("error: --seeds, --replay, --baseline and --kernels apply to scenario files only", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    if gdb or port is not None:
        typer.echo("error: --gdb applies to scenario files; for an ELF use `cosim debug ELF --board ID`", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    request = {"elf": elf, "board": board, "engine": engine, "max_instructions": max_instructions,
               "duration_s": duration, "timeout_s": timeout, "hang_instructions": hang_instructions,
               "hang_seconds": hang_seconds, "measure": tuple(measure or ()), "cycles": cycles}  # fmt: skip
    if stack_region is not None:
        from tinyml_cosim.elf.stack_region import parse_region  # lazy: see CORE_COMMANDS

        try:
            request["stack_region"] = parse_region(stack_region)
        except CosimError as exc:
            raise _fail(exc) from None
    run_elf(request, json_out=json_out, out=out, force=force)


def is_scenario_path(path: Path) -> bool:
    """`cosim run` takes a scenario file or an ELF; decided here by the name alone, before anything is loaded."""
    return path.suffix.lower() in (".yaml", ".yml")


def run_elf(request: dict[str, Any], *, json_out: bool, out: Path | None, force: bool = False) -> NoReturn:
    """`cosim run ELF`: run it, print the console (or the record as JSON), keep the artefacts of a failure."""
    # lazy: the run session (pydantic, pyelftools, PyYAML) loads when an ELF runs, not for the CLI's other commands
    from tinyml_cosim.cli.run_output import measure_summary, run_extra_lines, write_run_dir
    from tinyml_cosim.engines import launcher
    from tinyml_cosim.run.session import RunRequest, run_firmware

    launcher.install_signal_handlers()
    lines: list[str] = []  # the whole console, kept for the failure artefacts (run.json holds its tail)

    def echo(line: str) -> None:
        lines.append(line)
        if not json_out:
            typer.echo(line)

    try:
        # --out is checked and locked before the run (core.report_dir.ReportDir): a bad one costs no emulation
        with report_dir(out, force=force) as target:
            record = run_firmware(RunRequest(**request, echo=echo))
            payload = record.model_dump_json(indent=2)
            summary = measure_summary(record)  # lazy-loaded with the run path (cli.run_output)
            if summary:  # per function: calls, min, median, max, total, and whether the counts are exact
                payload = json.dumps({**json.loads(payload), "measure_summary": summary}, indent=2)
            if target is not None:
                target.write(lambda tmp: write_run_dir(tmp, record, payload, lines))
    except CosimError as exc:
        raise _fail(exc) from None
    if json_out:
        typer.echo(payload)
    else:
        # Every count printed says how exact it is (run.json: instructions_accuracy).
        accuracy = f" [count {record.instructions_accuracy}]" if record.instructions is not None else ""
        typer.echo(f"[{record.engine}/{record.board}] {record.status.value}: {record.diagnosis}{accuracy}", err=True)
        for line in run_extra_lines(record, summary):
            typer.echo(line, err=True)
    if record.status.value in ("crash", "error"):
        raise typer.Exit(EXIT_ENGINE_ERROR)
    raise typer.Exit(EXIT_OK if record.succeeded else EXIT_FAILED)


app.command()(debugging.debug)
app.command()(debugging.replay)


def _mount_optional(module: str, name: str, help_text: str) -> None:
    """Sub-apps from other packages: mounted when present so the core CLI never depends on them."""
    try:
        sub = importlib.import_module(module).app
    except ModuleNotFoundError:
        return
    app.add_typer(sub, name=name, help=help_text)


# The core commands need none of the scenario, sensor and model-compiler modules (numpy, scipy, matplotlib:
# about half a second of imports), so those are mounted only when another command, or the help, is asked for.
CORE_COMMANDS = frozenset({"boards", "build", "run", "debug", "replay"})
_extensions_mounted = False


def mount_extensions() -> None:
    global _extensions_mounted
    if _extensions_mounted:
        return
    _extensions_mounted = True
    _mount_optional("tinyml_cosim.cli.scenario", "scenario", "Validate, export and plot scenario files.")
    _mount_optional("tinyml_cosim.cli.sweep", "sweep", "Sweeps of a scenario over impairments, seeds and boards.")
    _mount_optional(
        "tinyml_cosim.cli.models", "model", "Check compiled models bit for bit against TFLite Micro in the emulator."
    )
    try:  # `cosim memory FILE.elf --board ID`: flash/RAM per section and component (tinyml_cosim/memory_cli.py)
        from tinyml_cosim.cli.memory import memory_command

        app.command("memory")(memory_command)
    except ImportError:
        pass
    try:  # `cosim compile MODEL.tflite` is top-level; it lives with the model compiler
        from tinyml_cosim.cli.models import compile_command

        app.command("compile")(compile_command)
    except ImportError:
        pass


def main() -> None:
    """Entry point: usage errors exit 2 (click's own convention matches ours), anything unexpected exits 3."""
    words = [a for a in sys.argv[1:] if not a.startswith("-")]
    if not words or words[0] not in CORE_COMMANDS:
        mount_extensions()
    try:
        app(standalone_mode=True)
    except SystemExit:
        # The process ends here: spare the interpreter's last garbage collections over every loaded module
        # (~0.15 s of each `cosim run`). Objects are still freed by reference count and atexit handlers still run.
        gc.freeze()
        raise
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(EXIT_FAILED)
    except Exception as exc:  # an internal error: say what it was, without a wall of traceback
        typer.echo(f"internal error: {exc.__class__.__name__}: {exc} (set COSIM_DEBUG=1 for a traceback)", err=True)
        if os.environ.get("COSIM_DEBUG"):
            raise
        sys.exit(EXIT_ENGINE_ERROR)


assert EXIT_BAD_INPUT == 2  # click exits 2 on usage errors; our contract relies on that


if __name__ == "__main__":
    main()
