"""Foreign firmware's faults on QEMU, caught at once: breakpoints (through QEMU's GDB stub) at the handlers its
vector table names for NMI and the four faults. A breakpoint stops the CPU before the handler's first instruction
and retires nothing, so the count at the stop is the count at the fault, whatever budget the run has.

Why breakpoints rather than QEMU's own exception hooks: QEMU 7.2 has none that stop the CPU (`-d int` only logs
every exception, interrupts included), and a TCG plugin cannot stop the VM in 7.2.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from tinyml_cosim.core import cortex_m
from tinyml_cosim.core.errors import EngineError
from tinyml_cosim.engines.base import Ending, EndKind
from tinyml_cosim.engines.gdbremote import RspClient, RspError

FAULT_VECTORS = cortex_m.FAULT_VECTORS
VTOR = 0xE000ED08
# After the stop at a fault handler's entry the handler may run this long (whichever comes first) to lock up or
# print; what is reported stays the state at the entry.
HANDLER_GRACE_INSTRUCTIONS = 200_000
HANDLER_GRACE_S = 0.5


def arm_fault_breakpoints(engine: Any, rsp: RspClient) -> dict[int, str]:
    """Breakpoints at the handlers the vector table (at VTOR, read before the first instruction) names for
    NMI, HardFault, MemManage, BusFault and UsageFault. A breakpoint retires no instruction: the count at the
    stop is the count at the fault. A table the firmware moves later (VTOR written to RAM) is not followed."""
    try:
        base = engine.read_u32(VTOR)
        words = engine.read_memory(base, 4 * (max(FAULT_VECTORS) + 1))
    except EngineError:
        return {}
    handlers: dict[int, str] = {}
    for number in FAULT_VECTORS:
        target = int.from_bytes(words[4 * number : 4 * number + 4], "little") & ~1
        if target in (0, 0xFFFFFFFE):
            continue
        name = (engine.image.symbolize(target) if engine.image else None) or cortex_m.exception_name(number)
        if target not in handlers:
            rsp.set_breakpoint(target)
            handlers[target] = name
    return handlers


def after_fault_entry(engine: Any, rsp: RspClient, entry: Ending) -> Ending:
    """Everything was read at the handler's entry; now let the handler run a moment with the breakpoints gone,
    so that a handler that faults itself still ends as QEMU's lockup and one that prints says its piece. The
    count and registers reported stay those at the entry."""
    if entry.kind != EndKind.FAULT or engine._proc is None:
        return entry
    try:
        for address in engine._fault_handlers:
            rsp.remove_breakpoint(address)
        start, deadline = engine.instructions(), time.monotonic() + HANDLER_GRACE_S
        engine._qmp_cmd("cont")
        while engine._proc.poll() is None and time.monotonic() < deadline:
            if engine.instructions() - start >= HANDLER_GRACE_INSTRUCTIONS:
                break
            time.sleep(0.002)
        if engine._proc.poll() is None:
            engine._qmp_cmd("stop")
    except (EngineError, RspError, OSError):  # QEMU went away meanwhile (a lockup aborts it): see below
        pass
    if engine._proc.poll() is not None:
        ended = engine._ended_by_itself(engine._proc.wait(timeout=10))
        if ended.kind == EndKind.LOCKUP:
            ended.instructions, ended.recent_polls = entry.instructions, entry.recent_polls
            return ended
    with contextlib.suppress(Exception):
        engine._drain_console_now()
    return entry
