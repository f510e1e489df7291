"""Writes to flash, which QEMU's STM32 machines drop without a word (flash is a ROM region there): a write
watchpoint over the board's flash through the fault GDB stub.

Cost: QEMU checks watchpoints only on accesses to the watched pages of the kind watched, so reads and instruction
fetches from flash run as before; only a store to flash stops the CPU. Limits: the first write is reported (the
watchpoint is then removed, so a flash-programming loop runs at full speed after it); a write through DMA or a
table moved by a debugger is not seen; the project's own firmware (no fault stub) is not watched.
"""

from __future__ import annotations

import contextlib
import re

from tinyml_cosim.core.boards import Board
from tinyml_cosim.engines.gdbremote import RspClient, RspError, StopReply

_WATCH_RE = re.compile(r"(?:^|;)(?:watch|awatch):([0-9a-fA-F]+)")


def watch_flash(rsp: RspClient, board: Board) -> bool:
    """Set a write watchpoint over the whole flash; whether the stub took it."""
    flash = board.memory.flash
    try:
        return rsp.command(f"Z2,{flash.origin:x},{flash.size:x}") == "OK"
    except RspError:
        return False


def is_flash_write(stop: StopReply) -> bool:
    """Whether `stop` is this watchpoint's (QEMU names the watchpoint, by its start, in the reply)."""
    return _WATCH_RE.search(stop.detail) is not None


def store_address(rsp: RspClient, regs: list[int]) -> int | None:
    """The address the store at PC writes: QEMU reports the watchpoint's start, not the access, so the store is
    decoded (base register + offset or + shifted index) from the registers as they are at the stop."""
    from capstone import arm as cs_arm  # heavy (~75 ms): only a firmware that writes flash needs the decoder

    from tinyml_cosim.elf.thumb import _thumb  # imports capstone too

    pc = regs[15] & ~1
    try:
        code = bytes.fromhex(rsp.command(f"m{pc:x},4"))
    except (RspError, ValueError):
        return None
    for insn in _thumb().disasm(code, pc, count=1):
        mem = next((op.mem for op in insn.operands if op.type == cs_arm.ARM_OP_MEM), None)
        if mem is None or insn.id == 0:
            return None
        reg = {getattr(cs_arm, f"ARM_REG_R{i}"): i for i in range(13)} | {cs_arm.ARM_REG_SP: 13, cs_arm.ARM_REG_LR: 14}
        if mem.base not in reg:
            return None
        address = regs[reg[mem.base]] + mem.disp
        if mem.index:
            if mem.index not in reg:
                return None
            address += regs[reg[mem.index]] << (mem.lshift or 0)
        return address & 0xFFFFFFFF
    return None


def disarm(rsp: RspClient, board: Board) -> None:
    flash = board.memory.flash
    with contextlib.suppress(RspError):
        rsp.command(f"z2,{flash.origin:x},{flash.size:x}")
