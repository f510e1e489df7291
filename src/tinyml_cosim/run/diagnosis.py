"""Turn an engine's raw `Ending` and the firmware's events into one status and a diagnosis a person can act on.

The same rules for every engine: the firmware's own word (EXIT, BUDGET, FAULT, WATCHDOG events) comes first; what
the engine observed (exit status, lockup, a stall with the CPU in handler mode, a wall-clock backstop) fills in for
firmware that does not speak the protocol.

Hints say what is known and no more: every PC and LR with its function and source line (DWARF); which stack an
exception frame is on (EXC_RETURN bit 2); an SP below RAM as a stack overflow; a fault address in memory the chip
has but the engine does not map as an engine gap; the peripheral registers the firmware was seen polling earlier
(a HAL timeout that ends in Error_Handler), with the caller chain where each function has one direct caller.
"""

from __future__ import annotations

from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.cortex_m import (
    BFARVALID_BIT,
    CFSR_BITS,
    MMARVALID_BIT,
    exception_name,
    frame_on_process_stack,
    stack_name,
)
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.run_limits import DEFAULT_HANG_WALL_S
from tinyml_cosim.elf.callers import only_caller_chain
from tinyml_cosim.elf.image import FirmwareImage
from tinyml_cosim.engines.base import Ending, EndKind, FaultRegisters
from tinyml_cosim.engines.registry import engine_class
from tinyml_cosim.protocol.frames import Event
from tinyml_cosim.run.record import Status, Verdict

__all__ = ["Verdict", "classify"]


def classify(ending: Ending, events: list[Event], image: FirmwareImage, board: Board, engine: str) -> Verdict:
    terminal = next((e for e in events if e.terminal), None)
    # An access silicon would fault on but the engine let through (Renode logs it and runs on) comes before
    # whatever the firmware said afterwards: the firmware never saw its BusFault.
    if terminal is not None and ending.kind != EndKind.OUT_OF_BOUNDS:
        v = _from_event(terminal, image, board, engine, ending.instructions if ending.count_source else None)
        precision = engine_class(engine).event_count_precision(board)
        if ending.count_source:
            v.diagnosis += f" ({ending.count_source}; the event said {terminal.instructions:,})"
        elif precision:
            v.instructions_exact, v.instructions_precision = False, precision
    else:
        v = _from_ending(ending, image, board, engine)
    if v.pc_symbol is None and v.pc is not None:
        v.pc_symbol = image.symbolize(v.pc)
    if v.status in _TROUBLE:
        v.diagnosis += _earlier_polls(ending, image, board, engine)
        v.diagnosis += "".join(f"; {w}" for w in image.warnings)
    elif v.status == Status.BUDGET_REACHED:  # a budget that ran out during (or after) HAL's wait says what it waited on
        v.diagnosis += _earlier_polls(ending, image, board, engine)
    v.diagnosis += _flash_writes(ending, image, engine)
    if ending.note:
        v.diagnosis += f"; {ending.note}"
    return v


def _flash_writes(ending: Ending, image: FirmwareImage, engine: str) -> str:
    """Writes to flash, which the engine did not carry out (QEMU's flash is ROM): the firmware's later reads see
    the old contents, so whatever follows (a failed verify, Error_Handler) is the engine's doing."""
    writes = getattr(ending, "flash_writes", [])
    if not writes:
        return ""
    pc, address = writes[0]
    where = f"at 0x{address:08x}" if address is not None else "(address not decoded)"
    return (
        f"; firmware wrote to flash {where} {_at(image, pc)}, which {engine} ignores (its flash is "
        f"read-only: the write did not happen; the first write is reported, seen by a write watchpoint on flash)"
    )


# Endings a hint can explain; a clean exit or a reached budget gets none.
_TROUBLE = (Status.FAULT, Status.HANG, Status.LOCKUP, Status.TIMEOUT, Status.CRASH)


def _at(image: FirmwareImage, pc: int | None) -> str:
    if pc is None:
        return "at an unknown PC"
    return f"at {image.describe(pc)}"


def _lr(image: FirmwareImage, lr: int | None) -> str:
    """`LR 0x08000111 in main+0x10 (main.c:12)`; an EXC_RETURN value as itself."""
    if lr is None:
        return "LR unknown"
    if (lr & 0xFFFFFFF0) == 0xFFFFFFF0:
        return f"LR 0x{lr:08x} (EXC_RETURN)"
    return f"LR {image.describe(lr)}"


def _called_from(image: FirmwareImage, board: Board, pc: int) -> str:
    """`, called from SystemClock_Config <- main (their only direct callers)` where the ELF's code shows one direct
    caller at each step; empty otherwise (a call through a pointer is not visible, so no caller is guessed)."""
    sym = image.symbolize(pc)
    if sym is None:
        return ""
    chain = only_caller_chain(image.path, board, sym.split("+", 1)[0])
    if not chain:
        return ""
    named = " ← ".join(chain)
    return f", called from {named} (the only direct caller{'s' if len(chain) > 1 else ''} in the ELF)"


def _register_name(board: Board, address: int) -> str:
    named = board.peripheral_at(address)
    return f"{named[0]}_{named[1]}" if named and named[1] else (named[0] if named else "a peripheral register")


def _earlier_polls(ending: Ending, image: FirmwareImage, board: Board, engine: str) -> str:
    """The peripheral registers the engine saw the firmware poll during the run, other than the one the ending
    itself names: HAL code gives up waiting (its own timeout) and ends in Error_Handler, and the register it
    waited on is the reason."""
    polls = [p for p in getattr(ending, "recent_polls", []) if p[1] != ending.polled_address]
    if not polls:
        return ""
    said = []
    for pc, address in reversed(polls):  # newest first: the last wait before the end
        said.append(
            f"{_register_name(board, address)} (0x{address:08x}) {_at(image, pc)}{_called_from(image, board, pc)}"
        )
    advice = _unmodelled_advice(engine)
    tail = f": a register {engine} may not model{advice}" if advice else ""
    cpu = ending.cpu
    if ending.kind == EndKind.BUDGET and cpu is not None and _in_function_of(image, polls[-1][0], cpu.pc, cpu.lr):
        return f"; the budget ran out while the firmware was polling {', after polling '.join(said)}{tail}"
    return f"; earlier the firmware polled {', then before that '.join(said)}{tail}"


def _in_function_of(image: FirmwareImage, poll_pc: int, pc: int, lr: int) -> bool:
    """Whether the CPU stands in the polling loop's function, or in a leaf it calls (HAL_GetTick): PC or LR there."""
    poll = image.symbolize(poll_pc)
    here = [image.symbolize(a) for a in (pc, lr)]
    return poll is not None and any(h is not None and h.split("+", 1)[0] == poll.split("+", 1)[0] for h in here)


def _engine_gap(address: int | None, board: Board, engine: str) -> str:
    """`0x10000000 is CCM RAM on the STM32F405RG, not mapped by qemu's netduinoplus2: ...` for an address in memory
    the chip has and this engine leaves unmapped (the board file's `not_mapped_by`)."""
    if address is None:
        return ""
    for key, region in board.memory.regions():
        if engine in region.not_mapped_by and region.contains(address, 1):
            q = board.engines.qemu
            machine = f"{engine}'s {q.machine}" if engine == "qemu" and q and q.machine else engine
            return (
                f"; 0x{address:08x} is {region.name or key} on the {board.mcu}, not mapped by {machine}: "
                f"an engine gap, not a firmware bug{_unmodelled_advice(engine)}"
            )
    return ""


def _below_ram(sp: int | None, board: Board) -> str:
    """An SP under the RAM origin (and in no other RAM of the chip): the stack ran off its bottom."""
    mem = board.memory
    if sp is None or sp >= mem.ram.origin or (mem.ccm is not None and mem.ccm.contains(sp, 1)):
        return ""
    return f"; SP 0x{sp:08x} is below RAM (0x{mem.ram.origin:08x}): stack overflow"


def _fault_address(f: FaultRegisters) -> int | None:
    cfsr = f.cfsr or 0
    if cfsr & (1 << BFARVALID_BIT) and f.bfar is not None:
        return f.bfar
    if cfsr & (1 << MMARVALID_BIT) and f.mmfar is not None:
        return f.mmfar
    return None


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


def _from_event(e: Event, image: FirmwareImage, board: Board, engine: str, count: int | None = None) -> Verdict:
    """The firmware's own word; `count`: the engine's total where the event's own count is not valid."""
    t = e.instructions if count is None else count
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
        said += _lr(image, lr or 0)
        return Verdict(status=Status.HANG, diagnosis=said, instructions=t, instructions_exact=True, pc=pc, lr=lr,
                       xpsr=e.int_field("xpsr"))  # fmt: skip
    # FAULT
    faults = FaultRegisters(cfsr=e.int_field("cfsr"), hfsr=e.int_field("hfsr"), bfar=e.int_field("bfar"),
                            mmfar=e.int_field("mmfar"))  # fmt: skip
    pc, sp = e.int_field("pc"), e.int_field("sp")
    said = f"{e.fields.get('type', 'Fault')} {_at(image, pc)}: {_fault_text(faults)}"
    said += _below_ram(sp, board) + _engine_gap(_fault_address(faults), board, engine)
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
        _in_handler(v, ending, image, board, engine)
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
    v.diagnosis += _below_ram(v.sp, board)


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
    ) + _engine_gap(ending.bad_address, board, engine)


def _refused(v: Verdict, ending: Ending, image: FirmwareImage, board: Board, engine: str, when: str) -> None:
    # The firmware's own doing (it asked the host for something no firmware may have), so a failed run -- status
    # fault, exit 1 -- not an engine error: the emulator was ended on purpose, by the sandbox.
    v.status = Status.FAULT
    v.diagnosis = f"firmware refused by the sandbox {when}: {ending.message}".replace("  ", " ")


_BY_KIND = {
    EndKind.EXITED: _exited,
    EndKind.BUDGET: _budget,
    EndKind.LOCKUP: _lockup,
    EndKind.CRASH: _crash,
    EndKind.OUT_OF_BOUNDS: _out_of_bounds,
    EndKind.REFUSED: _refused,
}


def _in_handler(v: Verdict, ending: Ending, image: FirmwareImage, board: Board, engine: str) -> None:
    """Spinning inside an exception handler (e.g. a vendor `Default_Handler: b .`) is a fault, not a hang; so is an
    engine's stop at a fault handler's entry (EndKind.FAULT)."""
    cpu = ending.cpu
    assert cpu is not None
    exc = exception_name(cpu.ipsr)
    st = ending.stacked
    v.status = Status.FAULT
    on_psp = frame_on_process_stack(cpu.lr)
    stack = f" on {stack_name(on_psp)}" if on_psp is not None else ""
    handler = f"handler {_at(image, cpu.pc)}"
    if st is not None:
        v.pc, v.lr, v.xpsr, v.sp = st.pc, st.lr, st.xpsr, st.sp
        where = f"{exc} taken {_at(image, st.pc)} (stacked PC, frame{stack}; {_lr(image, st.lr)})"
    elif on_psp:
        # The core stacked the frame at PSP, which this engine cannot read: the faulting PC is not known.
        where = f"{exc} taken in thread mode with the frame on {stack_name(True)}, which {engine} cannot read, so the "
        where += f"faulting PC is unknown; {handler}"
    elif on_psp is False:
        where = f"{exc} with the frame on {stack_name(False)} at SP 0x{cpu.sp:08x}, not readable; {handler}"
    else:
        where = f"{exc} (the handler has called on since, so the stacked frame is not located); {handler}"
    v.diagnosis = f"firmware stuck in {where}: {_fault_text(ending.faults)}"
    if ending.kind == EndKind.FAULT:
        v.diagnosis = v.diagnosis.replace("firmware stuck in ", "firmware entered ", 1)
    # An overflowing stack: the frame's own SP (PSP/MSP) or, when the frame could not be pushed, the SP now.
    v.diagnosis += _below_ram(st.sp if st is not None else cpu.sp, board)
    v.diagnosis += _engine_gap(_fault_address(ending.faults), board, engine)
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
    if ending.cpu is not None:  # in a leaf loop (Error_Handler) LR still holds the return into its caller
        v.diagnosis += f", {_lr(image, ending.cpu.lr)}"
        v.diagnosis += _called_from(image, board, v.pc) if v.pc is not None else ""
    if ending.polled_address is not None:
        v.polled_address = ending.polled_address
        reg = _register_name(board, ending.polled_address)
        v.diagnosis += f"; polling {reg} at 0x{ending.polled_address:08x}"
        if getattr(ending, "polled_modelled", False):
            v.diagnosis += f" ({engine} models it: the firmware waits for a condition that never comes)"
        else:
            v.diagnosis += f", not modelled by {engine}{_unmodelled_advice(engine)}"
    wall = getattr(ending, "hang_wall_s", None)
    if wall is not None:  # found by the wall-clock rule for firmware without the cosim runtime
        v.diagnosis += (
            f"; hang timeout: no console line for {wall:g} s of wall-clock time with the PC in one loop "
            f"(--hang-seconds, default {DEFAULT_HANG_WALL_S:g})"
        )


def _unmodelled_advice(engine: str) -> str:
    """What the engine suggests when the firmware waits on a register it does not model (a capability)."""
    try:
        return engine_class(engine).unmodelled_peripheral_advice
    except (BadInput, ImportError, AttributeError):  # a name no registry knows (a test's fake engine)
        return ""
