"""How a Renode run ends: the Ending of each way, built from what the engine reads (RenodeEndings, a mixin of
RenodeEngine), and the run loop's notion of progress."""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import time
from collections import Counter
from typing import TYPE_CHECKING, ClassVar

from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.errors import EngineError
from tinyml_cosim.engines.base import CpuState, Ending, EndKind, FaultRegisters, StackedFrame
from tinyml_cosim.engines.renode.logscan import RenodeLog
from tinyml_cosim.engines.renode.platform import round_up_to_grain
from tinyml_cosim.protocol.frames import Event


def event_ending(event: Event, precision: int) -> Ending:
    """EXITED from the firmware's own end-of-run event. The count is the firmware's (its TIM2 reads, printed in the
    event), within `precision` (RenodeEngine.event_count_precision)."""
    faults = FaultRegisters()
    if event.kind == "FAULT":
        faults = FaultRegisters(
            cfsr=event.int_field("cfsr"),
            hfsr=event.int_field("hfsr"),
            mmfar=event.int_field("mmfar"),
            bfar=event.int_field("bfar"),
        )
    return Ending(
        kind=EndKind.EXITED,
        instructions=event.instructions,
        instructions_exact=precision == 0,
        instructions_precision=precision,
        exit_code=event.int_field("code") if event.kind == "EXIT" else None,
        faults=faults,
        message=f"firmware reported {event.kind}" + "".join(f" {k}={v}" for k, v in event.fields.items()),
    )


@dataclasses.dataclass
class Progress:
    """Where a run stands: virtual time, retired instructions, and the last sign of progress."""

    cycles: int
    count: int
    seen: tuple[int, int]  # (console lines, data requests)
    polled_mark: Counter[int]
    progress_at: int = -1  # virtual time of the last progress
    active_since: float = dataclasses.field(default_factory=time.monotonic)  # its wall time

    def __post_init__(self) -> None:
        if self.progress_at < 0:
            self.progress_at = self.cycles

    def moved(self, seen: tuple[int, int], mark: Counter[int]) -> None:
        self.seen, self.progress_at, self.polled_mark, self.active_since = seen, self.cycles, mark, time.monotonic()


class RenodeEndings:
    """The endings of RenodeEngine. It provides what they read (declared here for the type checker)."""

    if TYPE_CHECKING:
        board: Board
        log: RenodeLog
        grain: int
        stall_samples: ClassVar[int]
        _proc: subprocess.Popen[bytes] | None
        _monitor_usable: bool

        @property
        def chunk(self) -> int: ...
        def read_cpu(self) -> CpuState: ...
        def read_fault_registers(self) -> FaultRegisters: ...
        def unwind_exception(self, cpu: CpuState) -> StackedFrame | None: ...
        def instructions(self) -> int: ...
        def _number(self, command: str) -> int: ...
        def _run_for(self, cycles: int, wall_timeout: float | None) -> None: ...

    def _stopped_ending(self, kind: EndKind, cycles: int, message: str) -> Ending:
        cpu = self.read_cpu()
        return Ending(
            kind=kind,
            instructions=cycles,
            instructions_exact=True,
            cpu=cpu,
            stacked=self.unwind_exception(cpu),
            message=message,
        )

    def _stall_ending(self, idle: int, polled_mark: Counter[int]) -> Ending:
        samples: list[int] = []
        sample_step = round_up_to_grain(max(self.grain, self.board.clock_hz // 10_000), self.board.mips)
        for _ in range(self.stall_samples):
            samples.append(self._number("cpu PC"))
            self._run_for(sample_step, None)
        cpu = self.read_cpu()
        polled = self.log.most_polled_since(polled_mark)
        return Ending(
            kind=EndKind.STALLED,
            instructions=self.instructions(),
            instructions_exact=True,
            cpu=cpu,
            stacked=self.unwind_exception(cpu),
            faults=self.read_fault_registers(),
            polled_address=polled,
            pc_samples=samples,
            message=f"no console line or data request for {idle} instructions",
        )

    def _oob_ending(self, cycles: int) -> Ending:
        bad = self.log.first_out_of_bounds()
        assert bad is not None
        cpu: CpuState | None = None
        faults = FaultRegisters()
        with contextlib.suppress(EngineError):
            now = self.read_cpu()
            # The PC that matters is the accessing instruction's, from the log line; Renode ran on to the end of
            # the chunk, so LR/SP/xPSR are those at the stop.
            cpu = CpuState(pc=bad.pc, lr=now.lr, sp=now.sp, xpsr=now.xpsr)
            faults = self.read_fault_registers()
        # Silicon raises a precise BusFault with BFAR = the address; Renode logs the access and runs on, so BFAR
        # is the address from its log (CFSR stays what Renode's NVIC holds).
        faults = faults.model_copy(update={"bfar": bad.address})
        return Ending(
            kind=EndKind.OUT_OF_BOUNDS,
            instructions=cycles,
            instructions_exact=False,
            # The access happened inside the last RunFor chunk; Renode does not stop on it.
            instructions_precision=self.chunk,
            cpu=cpu,
            faults=faults,
            bad_address=bad.address,
            bad_pc=bad.pc,
            pc_samples=[bad.pc],
            message=f"{bad.describe()} (Renode: {bad.line.strip()})",
        )

    def _timeout_ending(self, cycles: int | None, why: str) -> Ending:
        cpu = None
        if self._monitor_usable:
            with contextlib.suppress(EngineError):
                cpu = self.read_cpu()
        return Ending(kind=EndKind.TIMEOUT, instructions=cycles, cpu=cpu, message=why)

    def _dead_ending(self, cycles: int | None, why: str = "") -> Ending:
        proc = self._proc
        code = proc.poll() if proc else None
        if proc is not None and code is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = proc.wait(timeout=2)
        tail = "\n".join(self.log.recent(15))
        head = f"Renode exited with status {code}" if code is not None else "Renode stopped answering"
        return Ending(
            kind=EndKind.CRASH,
            instructions=cycles,
            message=f"{head}{': ' + why if why else ''}\n{tail}".strip(),
        )

    def _budget_ending(self, count: int, budget: int) -> Ending:
        ending = self._stopped_ending(EndKind.BUDGET, count, f"stopped at {count} instructions (budget)")
        # As the QEMU engine: the precision of a budget stop is how far past the budget it landed.
        ending.instructions_precision = count - budget
        ending.instructions_exact = ending.instructions_precision == 0
        return ending


__all__ = ["Progress", "RenodeEndings", "event_ending"]
