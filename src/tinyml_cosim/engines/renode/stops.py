"""What the Renode engine learns at hooked instructions: semihosting calls answered (and their exit), and the entry
of a vendor firmware's fault handler, each with the exact count at that instruction (hooks.py has the mechanism)."""

from __future__ import annotations

from elftools.common.exceptions import ELFError

from tinyml_cosim.core import cortex_m
from tinyml_cosim.core.boards import Board
from tinyml_cosim.elf.image import FirmwareImage, boot_vectors
from tinyml_cosim.engines.base import CpuState, Ending, EndKind, FaultRegisters, StackedFrame
from tinyml_cosim.engines.renode import hooks
from tinyml_cosim.engines.renode.hooks import DONE_HALT, DONE_SKIP, KIND_FAULT, KIND_SEMIHOSTING, HookServer, HookStop
from tinyml_cosim.engines.renode.semihosting import Semihosting
from tinyml_cosim.protocol.console import Console

SHCSR = 0xE000ED24  # System Handler Control and State: MEMFAULTENA (16), BUSFAULTENA (17), USGFAULTENA (18)
SHCSR_ENABLE_BITS = {cortex_m.MEM_MANAGE: 16, cortex_m.BUS_FAULT: 17, cortex_m.USAGE_FAULT: 18}


class HookedStops:
    """The hook sites of one image and what their hooks reported during the run."""

    def __init__(self, board: Board, image: FirmwareImage, *, own_runtime: bool, console: Console) -> None:
        self.board, self.image, self.own_runtime = board, image, own_runtime
        ram = board.memory.ram
        self.semihosting = Semihosting(
            write_console=lambda _stream, data: console.feed(data),
            clock_hz=board.clock_hz,
            heap=(ram.origin, ram.origin + ram.size),
        )
        self.skipped = 0  # `bkpt 0xab` answered and skipped in Renode: QEMU retires them, so they are counted
        self.exit: tuple[int, int] | None = None  # (code, instructions) of a semihosting exit
        self.fault_entry: Ending | None = None  # a fault handler's entry, as the hook saw it
        self._server: HookServer | None = None

    def sites(self) -> list[tuple[int, bytes]]:
        """(address, kind) of every hook: each semihosting call site and, for vendor firmware (the project's
        runtime reports its faults itself, FAULT event), the handlers its vector table names for the faults."""
        try:
            found = dict.fromkeys(hooks.semihosting_sites(self.image.path), KIND_SEMIHOSTING)
            vectors = [] if self.own_runtime else boot_vectors(self.image.path, self.board)
        except ELFError:  # not an image pyelftools can read (a test's stand-in): nothing to hook
            return []
        if vectors:
            for number in cortex_m.FAULT_VECTORS:
                if number < len(vectors) and vectors[number] not in (0, 0xFFFFFFFF):
                    found.setdefault(vectors[number] & ~1, KIND_FAULT)
        return sorted(found.items())

    def hook_file(self) -> str:
        self._server = HookServer(self.on_stop)
        return hooks.hook_file_text(self._server.port, tuple(cortex_m.FAULT_VECTORS))

    def on_stop(self, stop: HookStop) -> tuple[int, int]:
        count = stop.instructions + self.skipped
        if stop.kind == KIND_FAULT:
            entry = fault_entry_ending(stop, count)
            if self.fault_entry is None:
                self.fault_entry = entry
            elif _nested_in_fault_handler(entry) and self.fault_entry.kind != EndKind.LOCKUP:
                # A fault taken while a fault handler ran: silicon escalates a configurable fault to HardFault and
                # locks up in HardFault or NMI; Renode 1.16.1 models no lockup and keeps taking them. The first
                # fault's registers stay (that is the bug); the run ends as the lockup it would be.
                self.fault_entry.kind = EndKind.LOCKUP
                self.fault_entry.message = (
                    f"a fault inside the {cortex_m.exception_name(entry.stacked.xpsr & cortex_m.IPSR_MASK)} "
                    f"handler at 0x{entry.stacked.pc:08x} (silicon locks up; Renode took it as another fault)"
                    if entry.stacked is not None
                    else "a fault inside a fault handler"
                )
                return 0, DONE_HALT
            return 0, 0
        outcome = self.semihosting.call(stop.regs[0], stop.regs[1], stop.read, stop.write, count)
        self.skipped += 1
        if outcome.exit_code is not None:
            self.exit = (outcome.exit_code, count + 1)  # the exit call retires on QEMU before it ends the run
            return outcome.r0, DONE_SKIP | DONE_HALT
        return outcome.r0, DONE_SKIP

    @property
    def error(self) -> str | None:
        return self._server.error if self._server else None

    def close(self) -> None:
        if self._server is not None:
            self._server.close()


def _nested_in_fault_handler(entry: Ending) -> bool:
    return entry.stacked is not None and entry.stacked.xpsr & cortex_m.IPSR_MASK in cortex_m.FAULT_VECTORS


def fault_entry_ending(stop: HookStop, count: int) -> Ending:
    """A fault handler's first instruction: registers and the stacked frame as the core left them."""
    cpu = CpuState(pc=stop.pc, lr=stop.regs[14], sp=stop.regs[13], xpsr=stop.xpsr)
    stacked = None
    if not (cortex_m.is_exc_return(cpu.lr) and cpu.lr & cortex_m.EXC_RETURN_PROCESS_STACK):
        frame = stop.read(cpu.sp, 4 * cortex_m.BASIC_FRAME_WORDS)
        words = [int.from_bytes(frame[i : i + 4], "little") for i in range(0, len(frame), 4)]
        stacked = StackedFrame(
            pc=words[cortex_m.STACKED_PC], lr=words[cortex_m.STACKED_LR], xpsr=words[cortex_m.STACKED_XPSR], sp=cpu.sp
        )
    cfsr, mmfar = stop.read_words(cortex_m.CFSR, 1)[0], stop.read_words(cortex_m.MMFAR, 1)[0]
    name = cortex_m.exception_name(cpu.ipsr)
    note = ""
    enable_bit = SHCSR_ENABLE_BITS.get(cpu.ipsr)
    if enable_bit is not None and not stop.read_words(SHCSR, 1)[0] & (1 << enable_bit):
        note = (
            f"Renode 1.16.1 took the {name} although SHCSR does not enable it; silicon escalates it to HardFault, "
            "so a firmware whose HardFault handler matters behaves differently here"
        )
    return Ending(
        kind=EndKind.FAULT,
        instructions=count,
        instructions_exact=True,
        cpu=cpu,
        stacked=stacked,
        # HFSR and BFAR are not modelled by Renode 1.16.1's NVIC (facts.FAULT_REGISTERS): unknown, not 0.
        faults=FaultRegisters(cfsr=cfsr, hfsr=None, mmfar=mmfar, bfar=None),
        message=f"entered {name} handler",
        note=note,
    )


__all__ = ["HookedStops", "fault_entry_ending"]
