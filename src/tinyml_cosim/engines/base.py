"""The one interface to an emulator. Nothing outside `tinyml_cosim/engines/` knows which emulator runs the firmware.

An engine starts an ELF on a board, carries its console and data channel, runs it until it ends or a limit is
reached, reads memory and CPU state, and stops. It reports raw facts (`Ending`); `tinyml_cosim.run.diagnosis` turns
those into a status and a diagnosis that is the same for every engine.
"""

from __future__ import annotations

import abc
import shutil
import tempfile
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel

from tinyml_cosim.core import cortex_m
from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.errors import EngineError
from tinyml_cosim.core.run_limits import DEFAULT_HANG_INSTRUCTIONS, DEFAULT_HANG_WALL_S
from tinyml_cosim.elf.image import FirmwareImage
from tinyml_cosim.protocol.console import Console
from tinyml_cosim.protocol.datachannel import DataService
from tinyml_cosim.protocol.frames import HostConfig, Transport

# SCB fault status registers; both engines read them the same way (the addresses live in core.cortex_m).
CFSR, HFSR, MMFAR, BFAR = cortex_m.CFSR, cortex_m.HFSR, cortex_m.MMFAR, cortex_m.BFAR
MEASURE_UNSUPPORTED = "--measure is not supported on {engine} yet"


@dataclass
class RunLimits:
    max_instructions: int | None = None  # stop (as budget_reached) after this many retired instructions
    timeout_s: float | None = None  # wall-clock backstop
    # No console line and no data request for this many instructions means the firmware makes no progress.
    hang_instructions: int = DEFAULT_HANG_INSTRUCTIONS
    # Foreign firmware: this many wall seconds without a console line, the PC in one small loop, is a hang.
    hang_wall_s: float = DEFAULT_HANG_WALL_S


@dataclass
class CpuState:
    pc: int
    lr: int
    sp: int
    xpsr: int

    @property
    def ipsr(self) -> int:
        return self.xpsr & cortex_m.IPSR_MASK


@dataclass
class StackedFrame:
    """The exception frame the core pushed on entry (r0-r3, r12, lr, pc, xpsr): where the interrupted code was."""

    pc: int
    lr: int
    xpsr: int
    sp: int


class FaultRegisters(BaseModel):
    """The SCB fault status and address registers at the end of a run (None: not read). The one definition of
    these four: the run record, the verdict and the report's run summary extend it (tinyml_cosim.run.faults)."""

    cfsr: int | None = None
    hfsr: int | None = None
    mmfar: int | None = None
    bfar: int | None = None

    @property
    def bits(self) -> list[str]:
        """The names of the CFSR and HFSR bits that are set, e.g. ["PRECISERR", "BFARVALID", "FORCED"]."""
        return cortex_m.cfsr_bits(self.cfsr) + cortex_m.hfsr_bits(self.hfsr)


class EndKind(str, Enum):
    EXITED = "exited"  # the firmware ended the run itself (semihosting exit, or an EXIT/BUDGET/FAULT event)
    BUDGET = "budget"  # the host stopped the run at --max-instructions
    STALLED = "stalled"  # the host saw no progress for RunLimits.hang_instructions
    TIMEOUT = "timeout"  # the wall-clock backstop
    LOCKUP = "lockup"  # the core locked up (fault during fault handling)
    CRASH = "crash"  # the emulator died on its own
    OUT_OF_BOUNDS = "out_of_bounds"  # the engine refused an access outside the modelled memories (Renode)
    FAULT = "fault"  # the engine stopped the CPU as it entered a fault handler (foreign firmware, at once)
    REFUSED = "refused"  # the sandbox ended the run at a host operation the firmware asked for (docs/security.md)


@dataclass
class Ending:
    """Raw facts about how a run ended, as one engine observed them."""

    kind: EndKind
    instructions: int | None = None
    instructions_exact: bool = False
    instructions_precision: int = 0
    exit_code: int | None = None
    cpu: CpuState | None = None
    stacked: StackedFrame | None = None
    faults: FaultRegisters = field(default_factory=FaultRegisters)
    polled_address: int | None = None  # a peripheral register the stalled firmware keeps reading
    hang_wall_s: float | None = None  # the stall was found by the wall-clock rule (RunLimits.hang_wall_s)
    polled_modelled: bool = False  # ... one the engine models (USART1_SR), found from the loop's own loads
    bad_address: int | None = None  # the address of a refused access (Renode)
    bad_pc: int | None = None  # the PC of that access, from the engine's log
    pc_samples: list[int] = field(default_factory=list)  # PCs seen while confirming a stall
    # (pc, peripheral register address) polls the engine saw during the run, newest last, kept however the run
    # ended (e.g. RCC_CR polled until HAL's timeout sent the firmware to Error_Handler).
    recent_polls: list[tuple[int, int]] = field(default_factory=list)
    # (PC, address) of writes to flash the engine saw (QEMU drops them; engines/qemu/flashwatch.py), first first.
    flash_writes: list[tuple[int, int | None]] = field(default_factory=list)  # address None: not decoded
    message: str = ""  # what the engine itself said (stderr, log), trimmed
    note: str = ""  # a modelling gap of the engine that bears on this ending: the diagnosis appends it
    # The engine's count is the run's total even where the firmware's events carry one (its own counter runs on
    # virtual time, which debugger stops move on QEMU: a --measure run); `count_source` says where it was read.
    count_source: str | None = None


@dataclass(frozen=True)
class CallMeasurement:
    """One call of a measured function: retired instructions from its first instruction through its return."""

    function: str
    begin: int  # the engine's instruction count at entry
    instructions: int  # entry through return, including any exception handler taken meanwhile
    # Estimated cycles of the call (the cycle plugin's running total at the two stops), where the engine has one.
    cycles: int | None = None


class Engine(abc.ABC):
    """Start, feed, watch and stop one emulated board. Use as a context manager: it never leaks a process."""

    name: ClassVar[str]

    # --- capabilities: callers ask these, never the engine's name ---
    # The data channel's default transport (transport().transport): what the firmware must be built with.
    data_transport: ClassVar[Transport]
    # The emulator runs on by itself after start() (and feeds the data channel) without run() being called, so a
    # caller can hold the firmware in a data request and advance it step by step (the Robot library's LiveRun).
    supports_live_steps: ClassVar[bool] = False
    # measure(): per-call instruction counts of chosen functions through a GDB server.
    supports_measure: ClassVar[bool] = False
    # Appended to the diagnosis when a stalled firmware polls a peripheral register this engine does not model,
    # e.g. the name of an engine that does ("; use --engine ..."); empty when there is nothing better to suggest.
    unmodelled_peripheral_advice: ClassVar[str] = ""

    @classmethod
    def event_count_precision(cls, board: Board) -> int:
        """± bound on the instruction counts the firmware itself reports (its events and spans, read from its
        timer); 0 where that timer counts retired instructions exactly."""
        return 0

    def __init__(self, board: Board, workdir: Path | None = None) -> None:
        self.board = board
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix=f"cosim-{self.name}-"))
        self.console = Console()
        self.image: FirmwareImage | None = None
        # The emulator's own log (what it wrote about itself: errors, warnings, a lockup dump), once it has run;
        # None for an engine that keeps none. Failure reports copy it (read it before the engine's workdir goes).
        self.log_path: Path | None = None
        # Writes to flash seen during the run, (PC, address): the run record's ending takes them over.
        self.flash_writes: list[tuple[int, int | None]] = []

    # --- availability, version, timing model ---
    @classmethod
    @abc.abstractmethod
    def unavailable_reason(cls, board: Board) -> str | None:
        """Why this engine cannot run `board` here (not installed, no model of the board), or None."""

    @abc.abstractmethod
    def version(self) -> str | None: ...

    @property
    @abc.abstractmethod
    def systick_ticks_per_instruction(self) -> float:
        """SysTick ticks per retired instruction; the time model assumes 1.0 (one instruction per clock)."""

    @abc.abstractmethod
    def transport(self) -> HostConfig:
        """The host configuration this engine writes before start: transport and exit mechanism."""

    # --- life cycle ---
    @abc.abstractmethod
    def start(
        self,
        image: FirmwareImage,
        config: HostConfig,
        *,
        data: DataService | None = None,
        gdb_port: int | None = None,
        halted: bool = False,
    ) -> None:
        """Load `image`, write `config` into its RAM, connect console and data channel; run unless `halted`."""

    @abc.abstractmethod
    def run(self, limits: RunLimits) -> Ending:
        """Let the firmware run until it ends or a limit is reached; the CPU is stopped when this returns."""

    def measure(self, limits: RunLimits, functions: dict[str, int]) -> tuple[Ending, list[CallMeasurement]]:
        """Run like `run`, counting the instructions of every call of the functions at these entry addresses.

        The engine must have been started halted with a GDB server; counts come from the engine's own instruction
        counter, which a stopped CPU does not advance, so they are exact even though the firmware is stopped at
        every call and return.
        """
        raise EngineError(MEASURE_UNSUPPORTED.format(engine=self.name))

    def feed_sensors(self, scenario: Path, seed: int | None) -> None:
        """Before start(): let the scenario's virtual sensors reach the emulated sensor peripherals the board file
        wires (`sensors:`), for firmware that reads its sensors with the vendor's driver. Engines without sensor
        models ignore it; there the firmware reads the scenario through the data channel."""
        return None

    def halted_by_fault(self) -> bool:
        """Whether the engine has stopped the CPU at a fault handler's entry (foreign firmware); run() then ends."""
        return False

    def console_settled(self) -> bool:
        """Whether every console byte the emulator has written so far has reached `console`; engines whose console
        arrives through a thread and a socket after the CPU has moved on override this."""
        return True

    def write_console(self, data: bytes) -> None:
        """Send `data` to the console USART's receiver, as a terminal would (the Robot library's `Write To UART`).
        The firmware sees each byte once it has enabled the receiver; bytes sent before that are the USART's to
        drop, as on silicon."""
        raise EngineError(f"writing to the console UART is not supported on {self.name} yet")

    @abc.abstractmethod
    def read_memory(self, address: int, size: int) -> bytes: ...

    @abc.abstractmethod
    def read_cpu(self) -> CpuState: ...

    @abc.abstractmethod
    def is_alive(self) -> bool:
        """Whether the emulator process is still running."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop the emulator and release everything; safe to call twice and from signal handlers."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- shared helpers ---
    def read_u32(self, address: int) -> int:
        return int.from_bytes(self.read_memory(address, 4), "little")

    def read_fault_registers(self) -> FaultRegisters:
        return FaultRegisters(
            cfsr=self.read_u32(CFSR), hfsr=self.read_u32(HFSR), mmfar=self.read_u32(MMFAR), bfar=self.read_u32(BFAR)
        )

    def unwind_exception(self, cpu: CpuState) -> StackedFrame | None:
        """In handler mode, read the frame the core stacked: the PC that was interrupted or faulted.

        EXC_RETURN in LR says which stack holds the frame; bit 2 set means the process stack (PSP), which engines
        that expose only the current SP cannot read: then the frame is reported as unknown rather than guessed.
        """
        if cpu.ipsr == 0:
            return None
        lr = cpu.lr
        if cortex_m.is_exc_return(lr) and lr & cortex_m.EXC_RETURN_PROCESS_STACK:
            sp = self.process_stack_pointer()
            if sp is None:
                return None
        else:
            sp = cpu.sp
        size = 4 * cortex_m.BASIC_FRAME_WORDS
        try:
            frame = self.read_memory(sp, size)
        except Exception:
            return None
        words = [int.from_bytes(frame[i : i + 4], "little") for i in range(0, size, 4)]
        return StackedFrame(
            pc=words[cortex_m.STACKED_PC], lr=words[cortex_m.STACKED_LR], xpsr=words[cortex_m.STACKED_XPSR], sp=sp
        )

    def process_stack_pointer(self) -> int | None:
        """PSP, where the engine can read it; None otherwise."""
        return None


def which(program: str) -> str | None:
    return shutil.which(program)
