"""`cosim debug` and `cosim replay`: a board halted under a GDB server, and one recorded inference window re-run
deterministically (typer fronts over tinyml_cosim.run.debug and tinyml_cosim.run.replay)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from tinyml_cosim.cli.common import INT63_MAX, BoardOpt, EngineOpt, JsonOpt, int_in
from tinyml_cosim.cli.common import fail as _fail
from tinyml_cosim.cli.common import port as port_in
from tinyml_cosim.core.errors import EXIT_FAILED, EXIT_OK, BadInput, CosimError


def debug(
    elf: Annotated[Path, typer.Argument(help="firmware ELF to debug")],
    board: BoardOpt,
    engine: EngineOpt = None,
    port: Annotated[
        int | None, typer.Option("--port", help="GDB server port (default: a free one)", callback=port_in())
    ] = None,
) -> None:
    """Start the board halted with a GDB server and print the gdb-multiarch command; Ctrl-C ends it."""
    from tinyml_cosim.engines import launcher  # lazy: this command's implementation
    from tinyml_cosim.run.debug import DebugSession

    launcher.install_signal_handlers()
    try:
        with DebugSession(elf=elf, board=board, engine=engine, port=port) as session:
            typer.echo(f"GDB server for {session.board.id} on {session.engine.name}: localhost:{session.port}")
            typer.echo(f"  {session.gdb_command()}")
            typer.echo(
                "Timing and sample pacing are not valid while a debugger holds the CPU (the simulated-time "
                "watchdog is off). Ctrl-C ends the session."
            )
            sys.stdout.flush()
            for line in session.follow_console():
                typer.echo(line)
            typer.echo(f"[debug] firmware ended: {session.ending_text()}", err=True)
    except KeyboardInterrupt:
        typer.echo("[debug] interrupted; emulator stopped", err=True)
        raise typer.Exit(EXIT_OK) from None
    except CosimError as exc:
        raise _fail(exc) from None


def _echo_replay(where: str, w: Any, record: Any, span: Any, same: bool) -> None:
    typer.echo(f"[replay] {where}")
    if span is None:
        typer.echo(f"[replay] the window did not recur: {record.status.value}: {record.diagnosis}")
        return
    verdict = "identical" if same else "DIFFERENT (the run is not deterministic)"
    if not same and record.engine != w.engine:
        # Each engine counts the firmware's spans its own way (docs/renode.md): no determinism check.
        verdict = f"DIFFERENT from the run recorded on {w.engine} (replayed on {record.engine})"
    typer.echo(
        f"[replay] replayed: instructions {span.begin:,} .. {span.end:,} = {span.instructions:,} "
        f"instructions: {verdict} (window starts {span.begin - w.begin:+,} instructions from the recorded run)"
    )


def replay(
    run_dir: Annotated[Path, typer.Argument(help="report directory of an earlier `cosim run SCENARIO.yaml`")],
    window: Annotated[
        int | None,
        typer.Option(
            "--window",
            help="replay inference N (0-based) instead of the observed maximum",
            callback=int_in("--window", 0, INT63_MAX, "inferences are numbered from 0"),
        ),
    ] = None,
    worst: Annotated[bool, typer.Option("--worst", help="replay the observed maximum's window (the default)")] = False,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", help="with --window: which seed (default the first)", callback=int_in("--seed", 0, INT63_MAX)
        ),
    ] = None,
    gdb: Annotated[bool, typer.Option("--gdb", help="run it halted under a GDB server instead")] = False,
    port: Annotated[
        int | None,
        typer.Option("--port", help="GDB server port with --gdb (default: a free one)", callback=port_in()),
    ] = None,
    engine: EngineOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Re-run one recorded inference window deterministically (the recorded seed from boot to the window's end);
    exit 0 when it takes exactly the recorded instructions, 1 when not."""
    from tinyml_cosim.engines import launcher  # lazy: this command's implementation
    from tinyml_cosim.run.debug import serve
    from tinyml_cosim.run.replay import debug_window, find_window, replay_window, window_done

    launcher.install_signal_handlers()
    try:
        if worst and window is not None:
            raise BadInput("give --worst or --window N, not both")
        w = find_window(run_dir, window, seed)
        where = (
            f"{w.why}: seed {w.seed} {w.span} #{w.index}, instructions {w.begin:,} .. {w.end:,} "
            f"({w.instructions:,} instructions recorded)"
        )
        if gdb:
            with debug_window(w, engine, port) as session:
                hint = (
                    f"replaying {where}; the session ends after that span. Break in the inference code (e.g. "
                    "`break cosim_span_begin`); stops before the window move the firmware's clock (see "
                    "docs/debugging.md)."
                )
                typer.echo(f"[replay] {serve(session, typer.echo, hint, until=window_done(w))}", err=True)
            raise typer.Exit(EXIT_OK)
        record, span = replay_window(w, engine)
    except CosimError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        typer.echo("[replay] interrupted; emulator stopped", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    # The window's own count is what must recur. Its position may move by a few instructions: the replay's
    # budget (it ends after the window) is armed by the firmware's start-up, which is arithmetic on another value.
    same = span is not None and span.instructions == w.instructions
    payload = {
        "seed": w.seed,
        "index": w.index,
        "span": w.span,
        "engine": record.engine,
        "recorded_engine": w.engine,
        "recorded": {"begin": w.begin, "end": w.end, "instructions": w.instructions},
        "replayed": None if span is None else {"begin": span.begin, "end": span.end, "instructions": span.instructions},
        "identical": same,
        "status": record.status.value,
        "fingerprint": record.fingerprint,
    }
    if json_out:
        typer.echo(json.dumps(payload, indent=2))
    else:
        _echo_replay(where, w, record, span, same)
    raise typer.Exit(EXIT_OK if same else EXIT_FAILED)
