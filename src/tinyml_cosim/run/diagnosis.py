"""Turn an engine's raw `Ending` and the firmware's events into one status and a diagnosis a person can act on.

The same rules for every engine: the firmware's own word (EXIT, BUDGET, FAULT, WATCHDOG events) comes first; what
the engine observed (exit status, lockup, a stall with the CPU in handler mode, a wall-clock backstop) fills in for
firmware that does not speak the protocol.
"""

from __future__ import annotations

from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.cortex_m import BFARVALID_BIT, CFSR_BITS, MMARVALID_BIT, exception_name
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.elf.image import FirmwareImage
from tinyml_cosim.engines.base import Ending, EndKind, FaultRegisters
from tinyml_cosim.engines.registry import engine_class
from tinyml_cosim.protocol.frames import Event
from tinyml_cosim.run.record import Status, Verdict

__all__ = ["Verdict", "classify"]


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


def _fault_text(f: FaultRegisters) -> str:
    parts = []
    cfsr = f.cfsr or 0
    for bit, (name, meaning) in CFSR_BITS.items():
        if cfsr & (1 << bit) and name not in ("MMARVALID", "BFARVALID"):
            parts.append(f"{name}: {meaning}")
    if cfsr & (1 << BFARVALID_BIT) and f.bfar is not None:
        parts.append(f"BFAR=0x{f.bfar:08x}")
    if cfsr & (1 << MMARVALID_BIT) and f.mmfar is not None:
        parts.append(f"MMFAR=0x{f.mmfar:08x}")
    regs = f"CFSR=0x{cfsr:08x} HFSR=0x{f.hfsr or 0:08x}"
    return f"{regs} ({'; '.join(parts)})" if parts else regs


def _from_event(e: Event, image: FirmwareImage, board: Board) -> Verdict:
    t = e.instructions
    at = f"after {t:,} instructions ({board.seconds(t):.6f} s simulated)"
    if e.kind == "EXIT":
        code = e.int_field("code")
        said = f"firmware exited with code {code} {at}"
        return Verdict(status=Status.EXITED, diagnosis=said, exit_code=code, instructions=t, instructions_exact=True)
    if e.kind == "BUDGET":
        said = f"instruction budget reached at {t:,} instructions ({board.seconds(t):.6f} s simulated)"
        return Verdict(status=Status.BUDGET_REACHED, diagnosis=said, instructions=t, instructions_exact=True)
    if e.kind == "WATCHDOG":
        pc, lr, idle = e.int_field("pc"), e.int_field("lr"), e.int_field("idle")
        said = f"no progress for {idle:,} instructions (firmware watchdog); interrupted {_at(image, pc)}, "
        said += f"LR 0x{lr or 0:08x}"
        return Verdict(status=Status.HANG, diagnosis=said, instructions=t, instructions_exact=True, pc=pc, lr=lr,
                       xpsr=e.int_field("xpsr"))  # fmt: skip
    # FAULT
    faults = FaultRegisters(cfsr=e.int_field("cfsr"), hfsr=e.int_field("hfsr"), bfar=e.int_field("bfar"),
                            mmfar=e.int_field("mmfar"))  # fmt: skip
    pc = e.int_field("pc")
    said = f"{e.fields.get('type', 'Fault')} {_at(image, pc)}: {_fault_text(faults)}"
    v = Verdict(status=Status.FAULT, diagnosis=said,
                instructions=t, instructions_exact=True, pc=pc, lr=e.int_field("lr"), sp=e.int_field("sp"),
                xpsr=e.int_field("xpsr"))  # fmt: skip
    v.set_faults(faults)
    return v


def _from_ending(ending: Ending, image: FirmwareImage, board: Board, engine: str) -> Verdict:
    """What the engine observed, for firmware whose own word (a terminal event) is missing: one step per way a
    run can end."""
    v = Verdict(status=Status.ERROR, instructions=ending.instructions, instructions_exact=ending.instructions_exact,
                instructions_precision=ending.instructions_precision)  # fmt: skip
    v.set_faults(ending.faults)
    if ending.cpu is not None:
        cpu = ending.cpu
        v.pc, v.lr, v.sp, v.xpsr = cpu.pc, cpu.lr, cpu.sp, cpu.xpsr
    n = ending.instructions
    when = f"after {n:,} instructions" if n is not None else ""
    if ending.kind in _BY_KIND:
        _BY_KIND[ending.kind](v, ending, image, board, engine, when)
    elif ending.cpu is not None and ending.cpu.ipsr != 0:
        _in_handler(v, ending, image)
    elif ending.kind == EndKind.TIMEOUT:
        v.status = Status.TIMEOUT
        v.diagnosis = f"wall-clock timeout {when}; firmware was running {_at(image, v.pc)}"
    else:
        _stalled(v, ending, image, board, engine, when)
    return v


def _exited(v: Verdict, ending: Ending, image: FirmwareImage, board: Board, engine: str, when: str) -> None:
    v.status, v.exit_code = Status.EXITED, ending.exit_code
    v.diagnosis = f"firmware exited with code {ending.exit_code} (semihosting) {when}".strip()


def _budget(v: Verdict, ending: Ending, image: FirmwareImage, board: Board, engine: str, when: str) -> None:
    v.status = Status.BUDGET_REACHED
    over = (
        f" (+{ending.instructions_precision:,} past the budget: the host stops {engine} by polling)"
        if ending.instructions_precision
        else ""
    )
    v.diagnosis = f"instruction budget reached; stopped at {ending.instructions:,} instructions{over}"


def _lockup(v: Verdict, ending: Ending, image: FirmwareImage, board: Board, engine: str, when: str) -> None:
    v.status = Status.LOCKUP
    said = ending.message.splitlines()[0] if ending.message else ""
    v.diagnosis = f"core lockup (a fault while handling a fault) {_at(image, v.pc)}: {said}".strip(": ")


def _crash(v: Verdict, ending: Ending, image: FirmwareImage, board: Board, engine: str, when: str) -> None:
    v.status = Status.CRASH
    said = ending.message.strip().splitlines()[-1] if ending.message.strip() else "no message"
    v.diagnosis = f"{engine} crashed {when}: {said}"


def _out_of_bounds(v: Verdict, ending: Ending, image: FirmwareImage, board: Board, engine: str, when: str) -> None:
    v.status = Status.FAULT
    if ending.bad_pc is not None:
        v.pc = ending.bad_pc
    addr = f"0x{ending.bad_address:08x}" if ending.bad_address is not None else "an unknown address"
    v.diagnosis = (
        f"access to {addr} outside {board.id}'s datasheet memories {_at(image, v.pc)} "
        f"(from {engine}'s log; {engine} has no CFSR for this)"
    )


_BY_KIND = {
    EndKind.EXITED: _exited,
    EndKind.BUDGET: _budget,
    EndKind.LOCKUP: _lockup,
    EndKind.CRASH: _crash,
    EndKind.OUT_OF_BOUNDS: _out_of_bounds,
}


def _in_handler(v: Verdict, ending: Ending, image: FirmwareImage) -> None:
    """Spinning inside an exception handler (e.g. a vendor `Default_Handler: b .`) is a fault, not a hang."""
    assert ending.cpu is not None
    exc = exception_name(ending.cpu.ipsr)
    st = ending.stacked
    v.status = Status.FAULT
    if st is not None:
        v.pc, v.lr, v.xpsr, v.sp = st.pc, st.lr, st.xpsr, st.sp
        where = f"{exc} taken {_at(image, st.pc)} (stacked PC; LR 0x{st.lr:08x})"
    else:
        where = f"{exc} (stacked frame on the process stack, not readable here); handler {_at(image, ending.cpu.pc)}"
    v.diagnosis = f"firmware stuck in {where}: {_fault_text(ending.faults)}"
    if ending.kind == EndKind.TIMEOUT:
        v.status = Status.TIMEOUT
        v.diagnosis = "wall-clock timeout; " + v.diagnosis


def _stalled(v: Verdict, ending: Ending, image: FirmwareImage, board: Board, engine: str, when: str) -> None:
    """STALLED in thread mode: a hang; named after the peripheral register it polls, when there is one."""
    v.status = Status.HANG
    samples = ending.pc_samples or ([ending.cpu.pc] if ending.cpu else [])
    span = (max(samples) - min(samples)) if samples else 0
    loop = (
        f"PC confined to {span + 2} bytes" if samples and span < 64 else "PC moving but no console or protocol traffic"
    )
    v.diagnosis = f"no progress {when}; {loop} {_at(image, v.pc)}"
    if ending.polled_address is not None:
        v.polled_address = ending.polled_address
        named = board.peripheral_at(ending.polled_address)
        reg = f"{named[0]}_{named[1]}" if named and named[1] else (named[0] if named else "a peripheral register")
        v.diagnosis += f"; polling {reg} at 0x{ending.polled_address:08x}, not modelled by {engine}"
        v.diagnosis += _unmodelled_advice(engine)


def _unmodelled_advice(engine: str) -> str:
    """What the engine suggests when the firmware waits on a register it does not model (a capability)."""
    try:
        return engine_class(engine).unmodelled_peripheral_advice
    except (BadInput, ImportError, AttributeError):  # a name no registry knows (a test's fake engine)
        return ""
