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
from tinyml_cosim.core.run_limits import DEFAULT_HANG_INSTRUCTIONS
from tinyml_cosim.elf.image import FirmwareImage, load_image
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
    transport: Transport | None = None  # None: the engine's own choice
    data: DataService | None = None
    echo: Callable[[str], None] | None = None  # each console line as it arrives
    # Inputs that do not reach the engine directly but determine the run: they go into the fingerprint.
    scenario: Path | None = None
    seed: int | None = None
    model: Path | None = None
    # Functions whose every call is counted (`--measure SYMBOL`), for firmware that does not use cosim.h spans.
    measure: tuple[str, ...] = ()


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
    functions = {}
    for name in names:
        if not image.has_symbol(name) or image.symbols[name][1] == 0:
            raise BadInput(f"{image.path}: --measure {name}: no function of that name in the ELF's symbol table")
        functions[name] = image.symbol(name)
    return functions


def run_firmware(request: RunRequest) -> RunRecord:
    board = load_board(request.board)
    image = load_image(Path(request.elf), board)
    if request.hang_instructions <= 0:
        raise BadInput(f"--hang-instructions must be positive, got {request.hang_instructions}")
    budget = resolve_budget(board, request)
    name = resolve_engine_name(request.engine)
    started = time.monotonic()
    with create_engine(name, board) as engine:
        if request.measure and not engine.supports_measure:
            raise EngineError(MEASURE_UNSUPPORTED.format(engine=engine.name))  # before the emulator starts
        engine.console.set_echo(request.echo)
        limits = RunLimits(
            max_instructions=budget, timeout_s=request.timeout_s, hang_instructions=request.hang_instructions
        )
        calls: list[CallMeasurement] = []
        if request.measure:
            functions = measured_functions(image, request.measure)
            # Stopping at every call moves the firmware's clock (not the instruction count): watchdog off.
            config = host_config(engine, request, budget, debug=True)
            engine.start(image, config, data=request.data or DataService(), gdb_port=free_port(), halted=True)
            ending, calls = engine.measure(limits, functions)
        else:
            config = host_config(engine, request, budget)
            engine.start(image, config, data=request.data or DataService())
            ending = engine.run(limits)
        # Inside the `with`: the engine's log goes with its work directory when it closes.
        record = make_record(engine, image, board, ending, budget, time.monotonic() - started, request.data)
        if request.measure:
            record.timing_valid = False
            record.measurements = [
                Measurement(function=c.function, begin=c.begin, instructions=c.instructions) for c in calls
            ]
    record.provenance = Provenance(
        elf_sha256=image.sha256, board=board.id, engine=record.engine, engine_version=record.engine_version,
        model_sha256=file_sha256(request.model), scenario_sha256=file_sha256(request.scenario), seed=request.seed,
        max_instructions=budget,
    )  # fmt: skip
    record.fingerprint = record.provenance.fingerprint
    return record


def make_record(engine: Engine, image: FirmwareImage, board: Board, ending, budget, wall: float, data) -> RunRecord:
    """The record of a run that ended with `ending`, with the engine's log as it is now (call it while the engine
    is open)."""
    events = engine.console.events
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
