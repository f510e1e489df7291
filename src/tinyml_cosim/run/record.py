"""The run record: the one result every run produces; verdicts and reports read it and never re-run anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar

from pydantic import BaseModel, Field, PrivateAttr, computed_field

from tinyml_cosim.core.provenance import Provenance
from tinyml_cosim.run.faults import ReadableOrder, StopState

SCHEMA_VERSION = 1


class Status(str, Enum):
    EXITED = "exited"
    BUDGET_REACHED = "budget_reached"
    FAULT = "fault"
    LOCKUP = "lockup"
    HANG = "hang"
    TIMEOUT = "timeout"
    CRASH = "crash"
    ERROR = "error"

    @property
    def ok_without_exit_code(self) -> bool:
        return self is Status.BUDGET_REACHED


class RecordedEvent(BaseModel):
    kind: str
    instructions: int
    fields: dict[str, str] = {}


class Span(BaseModel):
    name: str
    depth: int
    begin: int
    end: int
    cycles: int | None = Field(
        None, description="estimated silicon cycles of the span (cycle model; an estimate, never the time base)"
    )
    cycle_parts: dict[str, int] | None = Field(None, description="the span's estimated cycles by category")

    @property
    def instructions(self) -> int:
        return self.end - self.begin


class Measurement(BaseModel):
    """One call of a function counted with `--measure`: exact retired instructions, entry through return."""

    function: str
    begin: int
    instructions: int
    cycles: int | None = Field(None, description="estimated silicon cycles of the call (cycle model), or None")


class FunctionCycles(BaseModel):
    name: str
    instructions: int
    cycles: int


class CycleSummary(BaseModel):
    """The cycle model's estimate for the whole run (tinyml_cosim.cycles): silicon cycles of the exact binary on
    the board's core and memory system. Simulated time stays instructions / f_clk; this is an estimate beside it."""

    total: int = Field(description="estimated cycles of every instruction the run executed")
    low: int = Field(description="the same with every uncertain instruction at its fewest cycles")
    high: int = Field(description="the same at its most (divide operands, branch refill, validation error)")
    instructions: int = Field(description="instructions the plugin saw (equals the engine's exact count)")
    categories: dict[str, int] = Field(description="cycles by category: loads/stores, ALU/MAC, branches, waits ...")
    unknown_instructions: int = Field(0, description="executed instructions the model has no timing for (1 cycle)")
    model: str = Field(description="core timing tables and the board's memory system, with their sources")
    validation: str = Field("", description="how well the model predicted silicon (bench/results/timing_validation)")
    functions: list[FunctionCycles] = Field(default_factory=list, description="the costliest functions")
    spans_exact: bool = Field(
        False, description="whether span cycles are taken at the span's own counter reads (else nearest snapshot)"
    )
    problems: list[str] = Field(
        default_factory=list, description="why the model's recomputation and the plugin's running total disagree"
    )


def accuracy_text(exact: bool, precision: int) -> str:
    """The one wording of how exact an instruction count is, for text output, run.json and report.json.

    Exact means exact to the instruction and where it was asked to be: a budget stop that landed past its budget
    (the host stopped the emulator by polling) is approximate by that much, though the count of the stop is exact.
    """
    if exact and precision == 0:
        return "exact"
    if precision < 0:
        return "approximate (bound unknown)"
    return f"approximate (±{precision:,})"


class Verdict(StopState):
    """How a run ended, the same for every engine (tinyml_cosim.run.diagnosis makes it): the part of the run record
    the diagnosis fills in."""

    status: Status
    exit_code: int | None = Field(None, description="the firmware's own exit code (SYS_EXIT_EXTENDED or EXIT event)")
    diagnosis: str = Field("", description="one line saying what happened, for people")
    instructions: int | None = Field(None, description="instructions retired when the run ended")
    instructions_exact: bool = False
    instructions_precision: int = Field(0, description="± bound on `instructions` when not exact")

    @computed_field(description='"exact", or "approximate (±N)": how far `instructions` may be from the truth')  # type: ignore[prop-decorator]
    @property
    def instructions_accuracy(self) -> str:
        return accuracy_text(self.instructions_exact, self.instructions_precision)


class RunRecord(Verdict, ReadableOrder):
    """run.json (schema version 1): the verdict and everything else known about the run."""

    KEY_ORDER: ClassVar[tuple[str, ...]] = (
        "schema_version", "status", "exit_code", "diagnosis", "instructions", "instructions_exact",
        "instructions_precision", "instructions_accuracy", "simulated_seconds", "pc", "lr", "sp", "xpsr", "cfsr",
        "hfsr", "mmfar", "bfar", "fault_bits", "pc_symbol", "polled_address",
    )  # fmt: skip
    schema_version: int = SCHEMA_VERSION
    simulated_seconds: float | None = None
    console_tail: list[str] = Field(default_factory=list)
    events: list[RecordedEvent] = Field(default_factory=list)
    spans: list[Span] = Field(default_factory=list)
    board: str
    engine: str
    engine_version: str | None = None
    elf: str
    elf_sha256: str
    clock_hz: int
    max_instructions: int | None = None
    systick_ticks_per_instruction: float | None = Field(
        None, description="SysTick ticks per retired instruction on this engine; the time model assumes 1"
    )
    timing_valid: bool = Field(True, description="false when a debugger could hold the CPU")
    wall_seconds: float | None = None
    data_requests: int = 0
    measurements: list[Measurement] = Field(default_factory=list)
    cycles: CycleSummary | None = Field(None, description="the cycle model's estimate, when it ran")
    cycles_missing: str | None = Field(None, description="why the run has no (or a partial) cycle estimate")
    measurements_exact: bool | None = Field(
        None,
        description="whether the per-call counts of `measurements` are exact: they are the engine's counter at the "
        "stops it makes at entry and return, exact even where the firmware's own counts are not; None: no --measure",
    )
    stack_used: int | None = Field(
        None,
        description="stack high-water mark in bytes, for firmware whose stack the engine painted (own firmware "
        "reports it in its EXIT event)",
    )
    stack_used_source: str | None = Field(None, description="which region was painted and how it was found")
    fingerprint: str | None = Field(None, description="SHA-256 over ELF, model, scenario, seed, engine and version")
    provenance: Provenance | None = None
    uses_cosim_runtime: bool = Field(False, description="the ELF links cosim.h (events, watchdog, exact budgets)")

    # The engine's own log (QEMU's stderr, Renode's log), read before the engine's work directory went; not part of
    # run.json (a replayed record has none). Failure artefacts write it as engine.log.
    _engine_log: str | None = PrivateAttr(None)

    @property
    def engine_log(self) -> str | None:
        return self._engine_log

    @engine_log.setter
    def engine_log(self, text: str | None) -> None:
        self._engine_log = text

    @property
    def succeeded(self) -> bool:
        if self.status is Status.EXITED:
            return self.exit_code == 0
        return self.status.ok_without_exit_code


@dataclass
class SeedRun:
    """One run as the orchestration and the verdicts pass it around: its seed (None: a run without a scenario),
    its record and every console line (the record keeps only the tail)."""

    seed: int | None
    record: RunRecord
    console: list[str] = field(default_factory=list)
