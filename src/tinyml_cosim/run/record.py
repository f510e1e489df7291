"""The run record: the one result every run produces; verdicts and reports read it and never re-run anything."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, Field

from tinyml_cosim.core.provenance import Provenance

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

    @property
    def instructions(self) -> int:
        return self.end - self.begin


class Measurement(BaseModel):
    """One call of a function counted with `--measure`: exact retired instructions, entry through return."""

    function: str
    begin: int
    instructions: int


class RunRecord(BaseModel):
    schema_version: int = SCHEMA_VERSION
    status: Status
    exit_code: int | None = Field(None, description="the firmware's own exit code (SYS_EXIT_EXTENDED or EXIT event)")
    diagnosis: str = Field("", description="one line saying what happened, for people")
    instructions: int | None = Field(None, description="instructions retired when the run ended")
    instructions_exact: bool = False
    instructions_precision: int = Field(0, description="± bound on `instructions` when not exact")
    simulated_seconds: float | None = None
    pc: int | None = None
    lr: int | None = None
    sp: int | None = None
    xpsr: int | None = None
    cfsr: int | None = None
    hfsr: int | None = None
    mmfar: int | None = None
    bfar: int | None = None
    fault_bits: list[str] = []
    pc_symbol: str | None = None
    polled_address: int | None = None
    console_tail: list[str] = []
    events: list[RecordedEvent] = []
    spans: list[Span] = []
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
    measurements: list[Measurement] = []
    fingerprint: str | None = Field(None, description="SHA-256 over ELF, model, scenario, seed, engine and version")
    provenance: Provenance | None = None
    uses_cosim_runtime: bool = Field(False, description="the ELF links cosim.h (events, watchdog, exact budgets)")

    @property
    def succeeded(self) -> bool:
        if self.status is Status.EXITED:
            return self.exit_code == 0
        return self.status.ok_without_exit_code
