"""Turn an engine's raw `Ending` and the firmware's events into one status and a diagnosis a person can act on.

The same rules for every engine: the firmware's own word (EXIT, BUDGET, FAULT, WATCHDOG events) comes first; what
the engine observed (exit status, lockup, a stall with the CPU in handler mode, a wall-clock backstop) fills in for
firmware that does not speak the protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.cortex_m import (
    BFARVALID_BIT,
    CFSR_BITS,
    MMARVALID_BIT,
    cfsr_bits,
    exception_name,
    hfsr_bits,
)
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.elf.image import FirmwareImage
from tinyml_cosim.engines.base import Ending, EndKind
from tinyml_cosim.engines.registry import engine_class
from tinyml_cosim.protocol.frames import Event
from tinyml_cosim.run.record import Status


@dataclass
class Verdict:
    status: Status
    diagnosis: str
    exit_code: int | None = None
    instructions: int | None = None
    instructions_exact: bool = False
    instructions_precision: int = 0
    pc: int | None = None
    lr: int | None = None
    sp: int | None = None
    xpsr: int | None = None
    cfsr: int | None = None
    hfsr: int | None = None
    mmfar: int | None = None
    bfar: int | None = None
    fault_bits: list[str] = field(default_factory=list)
    pc_symbol: str | None = None
    polled_address: int | None = None


def classify(ending: Ending, events: list[Event], image: FirmwareImage, board: Board, engine: str) -> Verdict:
    terminal = next((e for e in events if e.terminal), None)
    v = _from_event(terminal, image, board) if terminal is not None else _from_ending(ending, image, board, engine)
    if v.pc_symbol is None and v.pc is not None:
        v.pc_symbol = image.symbolize(v.pc)
    return v


def _at(image: FirmwareImage, pc: int | None) -> str:
    if pc is None:
        return "at an unknown PC"
    sym = image.symbolize(pc)
    return f"at 0x{pc:08x}" + (f" in {sym}" if sym else " (outside every known function)")


def _fault_text(cfsr: int | None, hfsr: int | None, bfar: int | None, mmfar: int | None) -> str:
    parts = []
    for bit, (name, meaning) in CFSR_BITS.items():
        if cfsr and cfsr & (1 << bit) and name not in ("MMARVALID", "BFARVALID"):
            parts.append(f"{name}: {meaning}")
    if cfsr and cfsr & (1 << BFARVALID_BIT) and bfar is not None:
        parts.append(f"BFAR=0x{bfar:08x}")
    if cfsr and cfsr & (1 << MMARVALID_BIT) and mmfar is not None:
        parts.append(f"MMFAR=0x{mmfar:08x}")
    regs = f"CFSR=0x{cfsr or 0:08x} HFSR=0x{hfsr or 0:08x}"
    return f"{regs} ({'; '.join(parts)})" if parts else regs


def _from_event(e: Event, image: FirmwareImage, board: Board) -> Verdict:
    t = e.instructions
    if e.kind == "EXIT":
        code = e.int_field("code")
        return Verdict(
            Status.EXITED,
            f"firmware exited with code {code} after {t:,} instructions ({board.seconds(t):.6f} s simulated)",
            exit_code=code,
            instructions=t,
            instructions_exact=True,
        )
    if e.kind == "BUDGET":
        return Verdict(
            Status.BUDGET_REACHED,
            f"instruction budget reached at {t:,} instructions ({board.seconds(t):.6f} s simulated)",
            instructions=t,
            instructions_exact=True,
        )
    if e.kind == "WATCHDOG":
        pc, lr, idle = e.int_field("pc"), e.int_field("lr"), e.int_field("idle")
        return Verdict(
            Status.HANG,
            f"no progress for {idle:,} instructions (firmware watchdog); "
            f"interrupted {_at(image, pc)}, LR 0x{lr or 0:08x}",
            instructions=t,
            instructions_exact=True,
            pc=pc,
            lr=lr,
            xpsr=e.int_field("xpsr"),
        )
    # FAULT
    cfsr, hfsr, bfar, mmfar = e.int_field("cfsr"), e.int_field("hfsr"), e.int_field("bfar"), e.int_field("mmfar")
    pc = e.int_field("pc")
    kind = e.fields.get("type", "Fault")
    return Verdict(
        Status.FAULT,
        f"{kind} {_at(image, pc)}: {_fault_text(cfsr, hfsr, bfar, mmfar)}",
        instructions=t,
        instructions_exact=True,
        pc=pc,
        lr=e.int_field("lr"),
        sp=e.int_field("sp"),
        xpsr=e.int_field("xpsr"),
        cfsr=cfsr,
        hfsr=hfsr,
        bfar=bfar,
        mmfar=mmfar,
        fault_bits=cfsr_bits(cfsr) + hfsr_bits(hfsr),
    )


def _from_ending(ending: Ending, image: FirmwareImage, board: Board, engine: str) -> Verdict:
    cpu, f = ending.cpu, ending.faults
    base = Verdict(
        Status.ERROR,
        "",
        instructions=ending.instructions,
        instructions_exact=ending.instructions_exact,
        instructions_precision=ending.instructions_precision,
        cfsr=f.cfsr,
        hfsr=f.hfsr,
        mmfar=f.mmfar,
        bfar=f.bfar,
        fault_bits=cfsr_bits(f.cfsr) + hfsr_bits(f.hfsr),
    )
    if cpu is not None:
        base.pc, base.lr, base.sp, base.xpsr = cpu.pc, cpu.lr, cpu.sp, cpu.xpsr
    n = ending.instructions
    when = f"after {n:,} instructions" if n is not None else ""
    if ending.kind == EndKind.EXITED:
        base.status, base.exit_code = Status.EXITED, ending.exit_code
        base.diagnosis = f"firmware exited with code {ending.exit_code} (semihosting) {when}".strip()
        return base
    if ending.kind == EndKind.BUDGET:
        base.status = Status.BUDGET_REACHED
        over = (
            f" (+{ending.instructions_precision:,} past the budget: the host stops {engine} by polling)"
            if ending.instructions_precision
            else ""
        )
        base.diagnosis = f"instruction budget reached; stopped at {n:,} instructions{over}"
        return base
    if ending.kind == EndKind.LOCKUP:
        base.status = Status.LOCKUP
        said = ending.message.splitlines()[0] if ending.message else ""
        base.diagnosis = f"core lockup (a fault while handling a fault) {_at(image, base.pc)}: {said}".strip(": ")
        return base
    if ending.kind == EndKind.CRASH:
        base.status = Status.CRASH
        said = ending.message.strip().splitlines()[-1] if ending.message.strip() else "no message"
        base.diagnosis = f"{engine} crashed {when}: {said}"
        return base
    if ending.kind == EndKind.OUT_OF_BOUNDS:
        base.status = Status.FAULT
        if ending.bad_pc is not None:
            base.pc = ending.bad_pc
        addr = f"0x{ending.bad_address:08x}" if ending.bad_address is not None else "an unknown address"
        base.diagnosis = (
            f"access to {addr} outside {board.id}'s datasheet memories {_at(image, base.pc)} "
            f"(from {engine}'s log; {engine} has no CFSR for this)"
        )
        return base
    if cpu is not None and cpu.ipsr != 0:
        # Spinning inside an exception handler (e.g. a vendor `Default_Handler: b .`) is a fault, not a hang.
        exc = exception_name(cpu.ipsr)
        st = ending.stacked
        base.status = Status.FAULT
        if st is not None:
            base.pc, base.lr, base.xpsr, base.sp = st.pc, st.lr, st.xpsr, st.sp
            where = f"{exc} taken {_at(image, st.pc)} (stacked PC; LR 0x{st.lr:08x})"
        else:
            where = f"{exc} (stacked frame on the process stack, not readable here); handler {_at(image, cpu.pc)}"
        base.diagnosis = f"firmware stuck in {where}: {_fault_text(f.cfsr, f.hfsr, f.bfar, f.mmfar)}"
        if ending.kind == EndKind.TIMEOUT:
            base.status = Status.TIMEOUT
            base.diagnosis = "wall-clock timeout; " + base.diagnosis
        return base
    if ending.kind == EndKind.TIMEOUT:
        base.status = Status.TIMEOUT
        base.diagnosis = f"wall-clock timeout {when}; firmware was running {_at(image, base.pc)}"
        return base
    # STALLED in thread mode: a hang.
    base.status = Status.HANG
    samples = ending.pc_samples or ([cpu.pc] if cpu else [])
    span = (max(samples) - min(samples)) if samples else 0
    loop = (
        f"PC confined to {span + 2} bytes" if samples and span < 64 else "PC moving but no console or protocol traffic"
    )
    base.diagnosis = f"no progress {when}; {loop} {_at(image, base.pc)}"
    if ending.polled_address is not None:
        base.polled_address = ending.polled_address
        named = board.peripheral_at(ending.polled_address)
        reg = f"{named[0]}_{named[1]}" if named and named[1] else (named[0] if named else "a peripheral register")
        base.diagnosis += f"; polling {reg} at 0x{ending.polled_address:08x}, not modelled by {engine}"
        base.diagnosis += _unmodelled_advice(engine)
    return base


def _unmodelled_advice(engine: str) -> str:
    """What the engine suggests when the firmware waits on a register it does not model (a capability)."""
    try:
        return engine_class(engine).unmodelled_peripheral_advice
    except (BadInput, ImportError, AttributeError):  # a name no registry knows (a test's fake engine)
        return ""
