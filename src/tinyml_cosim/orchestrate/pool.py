"""The runs of a scenario, one per seed, in worker processes: each seed's run as `cosim run` makes it, an engine
error turned into a record that says so, and a pool that stops every worker (and its emulator) when interrupted."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import EXIT_ENGINE_ERROR, CosimError
from tinyml_cosim.core.provenance import file_sha256
from tinyml_cosim.engines import launcher
from tinyml_cosim.engines.registry import resolve_engine_name
from tinyml_cosim.run import session  # looked up at call time: tests replace session.run_firmware
from tinyml_cosim.run.record import RunRecord, SeedRun, Status

# One seed's run: (scenario, elf, engine, seed, duration_s, timeout_s).
SeedArgs = tuple[Path, Path, str | None, int, float, float]


def run_seed(
    scenario: Path,
    elf: Path,
    engine: str | None,
    seed: int,
    duration_s: float,
    timeout_s: float,
    lines: list[str] | None = None,
) -> tuple[RunRecord, list[str]]:
    """One run of the scenario with one seed (a top-level function: it runs in worker processes)."""
    # Lazy: the scenario package loads numpy, which `cosim run ELF` and the Robot/pytest start-up do not need.
    from tinyml_cosim.scenario import load_scenario
    from tinyml_cosim.scenario.delivery import data_service_for

    scn = load_scenario(scenario)
    lines = [] if lines is None else lines  # console lines as they arrive (kept when the engine raises)
    record = session.run_firmware(
        session.RunRequest(
            elf=elf,
            board=scn.board,
            engine=engine,
            duration_s=duration_s,
            timeout_s=timeout_s,
            data=data_service_for(scn, seed),
            echo=lines.append,
            scenario=scenario,
            seed=seed,
        )
    )
    return record, lines


def run_seed_for_report(
    scenario: Path, elf: Path, engine: str | None, seed: int, duration_s: float, timeout_s: float
) -> SeedRun:
    """run_seed, but an engine error (not installed, could not start, lost) becomes a record with status error and
    the console lines so far, so the report says what happened (a top-level function: it runs in workers)."""
    from tinyml_cosim.scenario import load_scenario  # lazy: numpy (see run_seed)

    lines: list[str] = []
    try:
        record, lines = run_seed(scenario, elf, engine, seed, duration_s, timeout_s, lines)
    except CosimError as exc:
        if exc.exit_code != EXIT_ENGINE_ERROR:
            raise
        record = error_record(load_scenario(scenario).board, engine, elf, f"engine error: {exc}", lines)
    except Exception as exc:  # an internal error (exit 3 too): the report says so instead of a bare traceback
        what = f"internal error: {type(exc).__name__}: {exc}"
        record = error_record(load_scenario(scenario).board, engine, elf, what, lines)
    return SeedRun(seed, record, lines)


def error_record(board_id: str, engine: str | None, elf: Path, diagnosis: str, lines: list[str]) -> RunRecord:
    """A run record for a run that never produced one (the engine raised)."""
    board = load_board(board_id)
    try:
        name = resolve_engine_name(engine)
    except CosimError:
        name = engine or "unknown"
    return RunRecord(
        status=Status.ERROR,
        diagnosis=diagnosis,
        console_tail=lines[-20:],
        board=board.id,
        engine=name,
        elf=str(elf),
        elf_sha256=file_sha256(elf) or "",
        clock_hz=board.clock_hz,
    )


def _worker_init() -> None:
    """Workers ignore Ctrl-C (the terminal sends it to the whole process group): the parent decides, and ends them
    with SIGTERM, which stops their emulators and unwinds (process_registry)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    launcher.install_signal_handlers()


def run_all(args: list[SeedArgs], jobs: int, done: Callable[[int, SeedRun], None] | None = None) -> list[SeedRun]:
    """Every seed's run, `jobs` at a time, in the order of `args`; `done(i, run)` as each one's result arrives."""
    tell = done or (lambda _i, _run: None)
    if jobs <= 1 or len(args) <= 1:
        out = []
        for i, a in enumerate(args):
            out.append(run_seed_for_report(*a))
            tell(i, out[-1])
        return out
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_worker_init)
    futures: list[Future] = []
    try:
        futures = [pool.submit(run_seed_for_report, *a) for a in args]
        results = []
        for i, f in enumerate(futures):
            results.append(f.result())
            tell(i, results[-1])
        return results
    except BaseException:
        # Interrupted (or one run raised): stop the others. A worker stops its emulator on SIGTERM, and the
        # emulator dies with the worker in any case (PR_SET_PDEATHSIG).
        for f in futures:
            f.cancel()
        for pid in list(getattr(pool, "_processes", {}) or {}):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
