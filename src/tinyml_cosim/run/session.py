"""Run one firmware ELF on one board with one engine and produce its run record.

The CLI, the Robot library and the tests all call `run_firmware`; none of them holds logic of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyml_cosim.core.boards import Board, load_board
from tinyml_cosim.core.errors import BadInput, EngineError
from tinyml_cosim.core.provenance import Provenance, file_sha256
from tinyml_cosim.core.run_limits import DEFAULT_HANG_INSTRUCTIONS, DEFAULT_HANG_WALL_S
from tinyml_cosim.elf.demangle import resolve_function
from tinyml_cosim.elf.image import FirmwareImage, load_image
from tinyml_cosim.elf.stack_region import StackRegion, high_water, stack_region
from tinyml_cosim.engines.base import MEASURE_UNSUPPORTED, CallMeasurement, Engine, RunLimits
from tinyml_cosim.engines.launcher import free_port
from tinyml_cosim.engines.registry import create_engine, resolve_engine_name
from tinyml_cosim.protocol.datachannel import DataService
from tinyml_cosim.protocol.frames import HOST_CONFIG_SYMBOL, ConfigFlag, Event, HostConfig, Transport
from tinyml_cosim.run.diagnosis import classify
from tinyml_cosim.run.record import Measurement, RecordedEvent, RunRecord, Span


@dataclass
class RunRequest:
    elf: Path
    board: str | Path
    engine: str | None = None
    max_instructions: int | None = None
    duration_s: float | None = None  # simulated seconds; converted through the board's clock
    timeout_s: float | None = None
    hang_instructions: int = DEFAULT_HANG_INSTRUCTIONS
    # Firmware without the cosim runtime: no console line for this many wall seconds, PC in one loop, is a hang.
    hang_seconds: float = DEFAULT_HANG_WALL_S
    transport: Transport | None = None  # None: the engine's own choice
    data: DataService | None = None
    echo: Callable[[str], None] | None = None  # each console line as it arrives
    # Inputs that do not reach the engine directly but determine the run: they go into the fingerprint.
    scenario: Path | None = None
    seed: int | None = None
    model: Path | None = None
    # Functions whose every call is counted (`--measure SYMBOL`), for firmware that does not use cosim.h spans.
    measure: tuple[str, ...] = ()
    # Bytes for the console USART's receiver, each sent once that many console lines have arrived (0: at start), so
    # that input follows the prompt it answers (the Robot library's `Write To UART`).
    console_input: tuple[tuple[int, bytes], ...] = ()
    # `--stack-region START:SIZE`: the stack the engine paints for firmware that paints none (engines.qemu.paint).
    stack_region: tuple[int, int] | None = None
    # The cycle model's estimate beside the exact counts (run.cycle_estimate), where board and engine have one:
    # True asked for, False refused, None the default (on unless $COSIM_CYCLES=off).
    cycles: bool | None = None


def host_config(engine: Engine, request: RunRequest, budget: int | None, debug: bool = False) -> HostConfig:
    base = engine.transport()
    flags = base.flags | (int(ConfigFlag.DEBUG_SESSION) if debug else 0)
    return HostConfig(
        transport=request.transport if request.transport is not None else base.transport,
        flags=flags,
        watchdog_instructions=0 if debug else request.hang_instructions,
        budget_instructions=budget or 0,
    )


def resolve_budget(board: Board, request: RunRequest) -> int | None:
    if request.max_instructions is not None and request.duration_s is not None:
        raise BadInput("give either --max-instructions or --duration, not both")
    if request.max_instructions is not None:
        if request.max_instructions <= 0:
            raise BadInput(f"--max-instructions must be positive, got {request.max_instructions}")
        return request.max_instructions
    if request.duration_s is not None:
        if request.duration_s <= 0:
            raise BadInput(f"--duration must be positive simulated seconds, got {request.duration_s}")
        return board.instructions(request.duration_s)
    return None


def spans_from_events(events: list[Event]) -> list[Span]:
    spans = []
    for e in events:
        if e.kind == "SPAN":
            begin = e.int_field("begin")
            if begin is not None:
                spans.append(
                    Span(
                        name=e.fields.get("name", "?"), depth=e.int_field("depth") or 0, begin=begin, end=e.instructions
                    )
                )
    return spans


def measured_functions(image: FirmwareImage, names: tuple[str, ...]) -> dict[str, int]:
    """Entry addresses of the functions to measure, keyed by the name given: a symbol, or a demangled C++ name
    (tinyml_cosim.elf.demangle: with or without its parameter list; a miss suggests near names)."""
    sized = {n: size for n, (_, size) in image.symbols.items() if size > 0}
    functions = {}
    for name in names:
        try:
            functions[name] = image.symbol(resolve_function(sized, name))
        except BadInput as exc:
            raise BadInput(f"{image.path}: {exc}") from None
    return functions


def run_firmware(request: RunRequest) -> RunRecord:
    board = load_board(request.board)
    image = load_image(Path(request.elf), board)
    if request.hang_instructions <= 0:
        raise BadInput(f"--hang-instructions must be positive, got {request.hang_instructions}")
    if request.hang_seconds <= 0:
        raise BadInput(f"--hang-seconds must be positive wall-clock seconds, got {request.hang_seconds}")
    budget = resolve_budget(board, request)
    name = resolve_engine_name(request.engine)
    started = time.monotonic()
    with create_engine(name, board) as engine:
        if request.measure and not engine.supports_measure:
            raise EngineError(MEASURE_UNSUPPORTED.format(engine=engine.name))  # before the emulator starts
        engine.console.set_echo(_echo_with_input(engine, request))
        limits = RunLimits(
            max_instructions=budget,
            timeout_s=request.timeout_s,
            hang_instructions=request.hang_instructions,
            hang_wall_s=request.hang_seconds,
        )
        if request.scenario is not None:
            engine.feed_sensors(Path(request.scenario), request.seed)
        calls: list[CallMeasurement] = []
        painted = stack_region(image, board, request.stack_region) if hasattr(engine, "stack_paint") else None
        engine.stack_paint = painted  # type: ignore[attr-defined]
        cycle_plan, cycles_missing = _attach_cycles(engine, image, board, request.cycles)
        if request.measure:
            functions = measured_functions(image, request.measure)
            # Stopping at every call moves the firmware's clock (not the instruction count): watchdog off.
            config = host_config(engine, request, budget, debug=True)
            engine.start(image, config, data=request.data or DataService(), gdb_port=free_port(), halted=True)
            _send_due_input(engine, request, 0)
            ending, calls = engine.measure(limits, functions)
        else:
            config = host_config(engine, request, budget)
            engine.start(image, config, data=request.data or DataService())
            _send_due_input(engine, request, 0)
            ending = engine.run(limits)
        # Inside the `with`: the engine's log goes with its work directory when it closes.
        record = make_record(engine, image, board, ending, budget, time.monotonic() - started, request.data)
        record.cycles_missing = cycles_missing
        if painted is not None:
            record.stack_used, record.stack_used_source = _painted_high_water(engine, painted)
        if request.measure:
            record.timing_valid = False
            record.measurements = [
                Measurement(function=c.function, begin=c.begin, instructions=c.instructions, cycles=c.cycles)
                for c in calls
            ]
            record.measurements_exact = True  # Engine.measure's contract: counts at stops, which do not move it
        if cycle_plan is not None:  # before the `with` ends: the profile lives in the engine's work directory
            cycle_plan.finish(record, board)
    record.provenance = Provenance(
        elf_sha256=image.sha256, board=board.id, engine=record.engine, engine_version=record.engine_version,
        model_sha256=file_sha256(request.model), scenario_sha256=file_sha256(request.scenario), seed=request.seed,
        max_instructions=budget,
    )  # fmt: skip
    record.fingerprint = record.provenance.fingerprint
    return record


def _attach_cycles(engine: Engine, image: FirmwareImage, board: Board, wanted: bool | None) -> tuple[Any, str | None]:
    """The cycle plugin for this run (run.cycle_estimate.attach): (plan, None) or (None, why not)."""
    from tinyml_cosim.run import cycle_estimate  # lazy: numpy and capstone only for a run that estimates cycles

    return cycle_estimate.attach(engine, image, board, wanted)


def _send_due_input(engine: Engine, request: RunRequest, lines: int) -> None:
    for after, data in request.console_input:
        if after == lines:
            engine.write_console(data)


def _echo_with_input(engine: Engine, request: RunRequest) -> Callable[[str], None] | None:
    """The console echo, also sending the input due after each line (called on the engine's console thread)."""
    if not request.console_input:
        return request.echo
    seen = 0

    def echo(line: str) -> None:
        nonlocal seen
        if request.echo is not None:
            request.echo(line)
        seen += 1
        _send_due_input(engine, request, seen)

    return echo


def _painted_high_water(engine: Engine, region: StackRegion) -> tuple[int | None, str]:
    """The high-water mark of the stack the engine painted, read while the emulator still holds the stopped CPU;
    a firmware that ended the emulator itself (semihosting exit) leaves nothing to read."""
    where = f"painted by the engine: 0x{region.start:08x}..0x{region.top:08x} ({region.source})"
    at_exit = getattr(engine, "stack_used_at_exit", None)  # QEMU: read on the exit's bkpt 0xab, before it quit
    if not engine.is_alive() and at_exit is not None:
        return at_exit, f"{where}; read at the semihosting exit (CPU stopped on its bkpt 0xab, nothing added)"
    if not engine.is_alive():
        return None, f"{where}; not read: the emulator had ended with the firmware"
    try:
        return high_water(engine.read_memory, region), where
    except EngineError as exc:
        return None, f"{where}; not read: {exc}"


def make_record(engine: Engine, image: FirmwareImage, board: Board, ending, budget, wall: float, data) -> RunRecord:
    """The record of a run that ended with `ending`, with the engine's log as it is now (call it while the engine
    is open)."""
    events = engine.console.events
    ending.flash_writes = ending.flash_writes or list(getattr(engine, "flash_writes", []))
    v = classify(ending, events, image, board, engine.name)
    record = RunRecord(
        **v.model_dump(),
        simulated_seconds=board.seconds(v.instructions) if v.instructions is not None else None,
        console_tail=engine.console.tail(20),
        events=[RecordedEvent(kind=e.kind, instructions=e.instructions, fields=e.fields) for e in events],
        spans=spans_from_events(events),
        board=board.id,
        engine=engine.name,
        engine_version=engine.version(),
        elf=str(image.path),
        elf_sha256=image.sha256,
        clock_hz=board.clock_hz,
        max_instructions=budget,
        systick_ticks_per_instruction=engine.systick_ticks_per_instruction,
        timing_valid=True,
        wall_seconds=round(wall, 4),
        data_requests=data.stats.requests if data else 0,
        uses_cosim_runtime=image.has_symbol(HOST_CONFIG_SYMBOL),
    )
    record.engine_log = engine_log_text(engine)
    if note := getattr(engine, "sandbox_note", None):  # QEMU: "semihosting file access is not confined: ..."
        record.diagnosis += f"; {note}"
    return record


def engine_log_text(engine: Any) -> str | None:
    """The engine's own log, read from its `log_path` (None before the engine class has one, or when the file is
    gone or was never written). Read while the engine is open: an engine removes its work directory on close."""
    path = getattr(engine, "log_path", None)
    if path is None:
        return None
    try:
        return Path(path).read_text(errors="replace") or None
    except OSError:
        return None
