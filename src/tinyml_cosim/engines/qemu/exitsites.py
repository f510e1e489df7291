"""The places where a firmware can end itself through semihosting: each `bkpt 0xab` whose r0 may be SYS_EXIT (0x18)
or SYS_EXIT_EXTENDED (0x20), found in the ELF's code.

QEMU quits the moment it executes such an instruction, so whatever the host still wants from the stopped machine
(the painted stack's high-water mark, QEMU's exact count for a `--measure` run) must be read with the CPU stopped
on it: a GDB breakpoint there stops before the instruction, retires nothing, and is the last stop of the run.
Only exit sites get a breakpoint: a stop at every semihosting call (each `printf` write) would let QEMU move its
virtual clock (with `-icount sleep=off` a GDB stop lets the clock jump to the next timer deadline) and so change
when the firmware's timer interrupts come. Which sites: those where the function's code shows SYS_EXIT or
SYS_EXIT_EXTENDED among the values r0 may hold (`r0_values`, along every path: newlib's `_kill_shared` picks 0x18
or 0x20 with `ite eq; moveq r4; movne r4`); a site with other constants only (newlib's `_write`: `movs r4, #5; mov
r0, r4; bkpt 0xab`) or with nothing the code shows (a wrapper taking the operation as an argument) gets none — an
exit through such a wrapper leaves the stack unread, said so in the record, rather than stopping at every call.
The host checks r0 when it stops at a site.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from tinyml_cosim.core.errors import EngineError
from tinyml_cosim.elf.image import elf_symbols
from tinyml_cosim.elf.stack_region import high_water
from tinyml_cosim.engines.base import Ending, EndKind
from tinyml_cosim.engines.gdbremote import RspClient, RspError
from tinyml_cosim.engines.qemu.polls import cs_regs, thumb_decoder

SYS_EXIT, SYS_EXIT_EXTENDED = 0x18, 0x20
EXIT_REASONS = (SYS_EXIT, SYS_EXIT_EXTENDED)
BKPT_0XAB = b"\xab\xbe"  # Thumb `bkpt 0xab`, little-endian
_R0 = 0
_CALL_CLOBBERED = (0, 1, 2, 3, 12)
_LOOK_BACK = 256  # bytes decoded before a site that lies in no sized function (none after it)
NOT_AN_INSTRUCTION = -1  # the bytes are the second half of a 32-bit instruction (`b.w` encodes as f7ff beab)


def arm(engine: Any, rsp: RspClient) -> None:
    """Breakpoints at the exit sites of the engine's image (the engine's `_exit_sites`)."""
    assert engine.image is not None
    engine._exit_sites = set(exit_sites(engine.image.path))
    for site in engine._exit_sites:
        rsp.set_breakpoint(site)


def at_exit_site(engine: Any, rsp: RspClient) -> bool:
    """Stopped on a `bkpt 0xab` that may end the run: when r0 says SYS_EXIT/EXIT_EXTENDED, read now what QEMU takes
    with it when it executes the instruction — its exact count (the CPU is stopped and the breakpoint retired
    nothing) and the painted stack's high-water mark — then take the exit breakpoints away so that the next
    `continue` exits. The reading runs no guest instruction and writes no guest byte. True at an exit; otherwise
    (a site whose r0 the code shows as possibly, not surely, an exit) the call is stepped over and counted in
    `exit_site_stops`: such a stop lets QEMU move its virtual clock."""
    try:
        regs = rsp.registers()
        if regs[0] not in EXIT_REASONS:  # a site that may exit was another call this time: step over it
            engine.exit_site_stops += 1
            pc = regs[15] & ~1
            rsp.remove_breakpoint(pc)
            rsp.command("s")
            rsp.set_breakpoint(pc)
            return False
    except (RspError, OSError, TimeoutError, ValueError, IndexError):
        return False
    with contextlib.suppress(EngineError, RspError, OSError, TimeoutError, ValueError):
        engine.exit_instructions = engine.instructions()
        if engine.stack_paint is not None:  # through the stub: ~100x faster than the monitor's `x`
            engine.stack_used_at_exit = high_water(
                lambda a, n: bytes.fromhex(rsp.command(f"m{a:x},{n:x}")), engine.stack_paint
            )
    for site in engine._exit_sites:
        with contextlib.suppress(RspError, OSError, TimeoutError):
            rsp.remove_breakpoint(site)
    engine._exit_sites = set()
    return True


def exited_while_measuring(engine: Any, rc: int) -> Ending:
    """The firmware exited through semihosting during --measure. The project's firmware reports its total from TIM2,
    which counts virtual time: every breakpoint stop lets QEMU jump that clock to the next timer deadline (TIM2's own
    wrap, 2^32 ticks on), so its EXIT event said ~4.29e9. QEMU's count on the exit's bkpt, read with the CPU stopped
    there (at_exit_site), is exact and is the total."""
    ending = engine._ended_by_itself(rc)
    if engine.exit_instructions is not None and ending.kind == EndKind.EXITED:
        ending.instructions, ending.instructions_exact = engine.exit_instructions, True
        ending.instructions_precision = 0
        if engine._own_runtime():
            ending.count_source = (
                f"{engine.name}'s own count at the semihosting exit; the firmware's counter runs on virtual time, "
                "which the measuring breakpoints move"
            )
    return ending


def exit_sites(path: Path) -> tuple[int, ...]:
    """Addresses of the `bkpt 0xab` instructions of `path` that may be a semihosting exit, lowest first."""
    st = path.stat()
    return _exit_sites(str(path.resolve()), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=64)
def _exit_sites(path: str, _mtime: int, _size: int) -> tuple[int, ...]:
    with open(path, "rb") as f:
        elf = ELFFile(f)
        functions = sorted((s.address, s.size) for s in elf_symbols(elf) if s.is_function and s.size > 0)
        sites = []
        for sec in elf.iter_sections():
            flags = sec["sh_flags"]
            if not (flags & SH_FLAGS.SHF_EXECINSTR and flags & SH_FLAGS.SHF_ALLOC) or sec["sh_type"] != "SHT_PROGBITS":
                continue
            code, base = sec.data(), sec["sh_addr"]
            off = code.find(BKPT_0XAB)
            while off >= 0:
                if off % 2 == 0:
                    site = base + off
                    start, end = _function_around(functions, site, base, base + len(code))
                    values = r0_values(code[start - base : end - base], start, site)
                    if isinstance(values, set) and values & set(EXIT_REASONS):  # not NOT_AN_INSTRUCTION
                        sites.append(site)
                off = code.find(BKPT_0XAB, off + 1)
    return tuple(sites)


def _function_around(functions: list[tuple[int, int]], site: int, low: int, high: int) -> tuple[int, int]:
    """The function holding `site` (start, end), or a window around it within the section [low, high)."""
    found = next(((a, a + size) for a, size in reversed(functions) if a <= site < a + size), None)
    return found if found is not None else (max(low, site - _LOOK_BACK), min(high, site + 2))


def r0_values(code: bytes, begin: int, site: int) -> set[int | None] | int:
    """The values r0 may hold when the instruction at `site` runs, along every path the function's code (`code`,
    from `begin`, an instruction boundary) shows into it: constants moved into r0 or into a register copied to it,
    and None for a value the code does not show (computed, loaded, passed in, returned by a call). A conditional
    move adds its constant to what was there. NOT_AN_INSTRUCTION when `site` is inside another instruction."""
    from capstone import arm  # heavy (~75 ms): only runs that need exit sites pay for the decoder

    insns = _decoded(code, begin)
    index = {insn.address: i for i, insn in enumerate(insns)}
    if site not in index:
        inside = any(insn.address < site < insn.address + insn.size for insn in insns)
        return NOT_AN_INSTRUCTION if inside else {None}  # the decoder stopped early (data in the code): no guess
    if any(insn.mnemonic.startswith(("tbb", "tbh")) for insn in insns):
        return {None}  # a jump table: its targets are not in the code's operands
    jumps_to: dict[int, list[int]] = {}
    for i, insn in enumerate(insns):
        if insn.group(arm.ARM_GRP_JUMP):
            for op in insn.operands:
                if op.type == arm.ARM_OP_IMM and op.imm in index:
                    jumps_to.setdefault(index[op.imm], []).append(i)

    def predecessors(i: int) -> list[int]:
        before = [i - 1] if i > 0 and not _ends_flow(insns[i - 1]) else []
        return before + jumps_to.get(i, [])

    seen: set[tuple[int, int]] = set()

    def reaching(i: int, reg: int) -> set[int | None]:
        """Values of `reg` just before instruction i."""
        if (i, reg) in seen:
            return set()  # a loop adds nothing new
        seen.add((i, reg))
        preds = predecessors(i)
        if not preds:
            return {None}  # the function's entry: passed in
        return set().union(*(_after(insns[p], p, reg) for p in preds))

    def _after(insn: Any, p: int, reg: int) -> set[int | None]:
        """Values of `reg` just after `insn` (at index p)."""
        if insn.group(arm.ARM_GRP_CALL):
            return {None} if reg in _CALL_CLOBBERED else reaching(p, reg)
        if _reg_number(reg) not in insn.regs_access()[1]:
            return reaching(p, reg)
        src = insn.operands[-1] if len(insn.operands) == 2 and insn.mnemonic.startswith("mov") else None
        if src is not None and src.type == arm.ARM_OP_IMM:
            value: set[int | None] = {src.imm & 0xFFFFFFFF}
        elif src is not None and src.type == arm.ARM_OP_REG and src.reg in cs_regs():
            value = reaching(p, cs_regs()[src.reg])
        else:
            return {None}
        conditional = insn.cc not in (arm.ARM_CC_AL, arm.ARM_CC_INVALID)
        return value | reaching(p, reg) if conditional else value

    return reaching(index[site], _R0)


@functools.lru_cache(maxsize=16)
def _decoded(code: bytes, begin: int) -> list[Any]:
    """One function's instructions, decoded once for all its semihosting calls (rdimon's _write has four)."""
    return list(thumb_decoder().disasm(code, begin))


def _ends_flow(insn: Any) -> bool:
    """An unconditional jump or return: the next instruction is not reached from this one."""
    from capstone import arm  # heavy: see r0_values

    if insn.group(arm.ARM_GRP_CALL) or insn.mnemonic.startswith(("cbz", "cbnz")):
        return False
    if insn.cc not in (arm.ARM_CC_AL, arm.ARM_CC_INVALID):
        return False
    if insn.group(arm.ARM_GRP_JUMP):
        return True
    return _reg_number(15) in insn.regs_access()[1]  # pop {..., pc}, ldr pc, mov pc


def _reg_number(number: int) -> int:
    """capstone's id of r<number>."""
    return next(cs for cs, n in cs_regs().items() if n == number)
