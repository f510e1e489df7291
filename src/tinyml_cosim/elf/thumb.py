"""The linked code, for what the compiler did not describe: an ELF's functions, executable bytes and vector table
(pyelftools), and the stack adjustments and direct branches of a function's Thumb code (capstone).

The static stack analysis (`tinyml_cosim.elf.stack_static`) reads libgcc's and the C library's helpers and `naked`
functions from here: they have no `-fstack-usage` output.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import capstone
from capstone import arm
from elftools.elf.elffile import ELFFile

from tinyml_cosim.core.boards import Board
from tinyml_cosim.elf.image import elf_symbols

# First halfwords of a 32-bit Thumb-2 instruction (ARMv7-M Architecture Reference Manual, A5.1).
_WIDE_PREFIXES = (0b11101, 0b11110, 0b11111)


@dataclass
class LinkedCode:
    funcs: dict[str, tuple[int, int]]  # name -> (address, size), Thumb bit cleared
    starts: dict[int, list[str]]  # address -> names (aliases)
    code: list[tuple[int, bytes]]  # (address, bytes) of executable sections
    vectors: list[int]  # the vector table's words


def read_linked_code(path: Path, board: Board) -> LinkedCode:
    funcs: dict[str, tuple[int, int]] = {}
    starts: dict[int, list[str]] = {}
    code: list[tuple[int, bytes]] = []
    vectors: list[int] = []
    with path.open("rb") as fh:
        elf = ELFFile(fh)
        for sym in elf_symbols(elf):
            if sym.name and sym.is_function:
                funcs.setdefault(sym.name, (sym.address, sym.size))
                starts.setdefault(sym.address, []).append(sym.name)
        for sec in elf.iter_sections():
            if sec["sh_flags"] & 0x4 and sec["sh_type"] == "SHT_PROGBITS":  # SHF_EXECINSTR
                code.append((sec["sh_addr"], sec.data()))
        # Assembly functions (libgcc's division helpers) often have no size: they run to the next function.
        ordered = sorted(starts)
        ends = [base + len(data) for base, data in code]
        for name, (addr, size) in funcs.items():
            if size == 0:
                nxt = next((a for a in ordered if a > addr), None)
                end = min([e for e in ends if e > addr] + ([nxt] if nxt is not None else []), default=addr)
                funcs[name] = (addr, end - addr)
        vec = elf.get_section_by_name(".isr_vector")
        if vec is None:  # the boot address: where the board fetches the initial SP and reset vector
            vec = next(
                (s for s in elf.iter_sections() if s["sh_addr"] == board.memory.flash.origin and s["sh_size"]), None
            )
        if vec is not None:
            data = vec.data()
            vectors = [int.from_bytes(data[i : i + 4], "little") for i in range(0, len(data) - 3, 4)]
    return LinkedCode(funcs, starts, code, vectors)


def code_at(linked: LinkedCode, addr: int, size: int) -> bytes:
    for base, data in linked.code:
        if base <= addr and addr + size <= base + len(data):
            return data[addr - base : addr - base + size]
    return b""


def _skip(code: bytes, size: int, offset: int, _user: object) -> int:
    """What capstone cannot decode (a literal-pool word, an encoding the M profile lacks) is skipped by the
    length its first halfword gives, so that decoding stays on the instruction boundaries after it."""
    wide = offset + 4 <= size and int.from_bytes(code[offset : offset + 2], "little") >> 11 in _WIDE_PREFIXES
    return 4 if wide else 2


@cache
def thumb_disassembler() -> capstone.Cs:
    """Capstone for Thumb-2 on an M-profile core, with details, skipping what it cannot decode by the length of its
    first halfword (shared by the stack analysis and the cycle model)."""
    return _thumb()


@cache
def _thumb() -> capstone.Cs:
    cs = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    cs.detail = True
    cs.skipdata = True
    cs.skipdata_setup = (".skip", _skip, None)
    return cs


def _pushed_bytes(insn: capstone.CsInsn) -> int:
    """Bytes one instruction moves SP down by: PUSH/STMDB SP!, VPUSH, STR/STRD with SP pre-decrement, SUB SP."""
    ops = insn.operands
    if insn.id in (arm.ARM_INS_PUSH, arm.ARM_INS_VPUSH):
        return sum(8 if insn.reg_name(op.reg).startswith("d") else 4 for op in ops)
    if insn.id == arm.ARM_INS_STMDB and insn.writeback and ops[0].reg == arm.ARM_REG_SP:
        return 4 * (len(ops) - 1)
    if insn.id in (arm.ARM_INS_STR, arm.ARM_INS_STRD) and insn.writeback:
        mem = ops[-1]  # pre-indexed `[sp, #-n]!` (a post-indexed store has its offset as a last, immediate operand)
        if mem.type == arm.ARM_OP_MEM and mem.mem.base == arm.ARM_REG_SP and mem.mem.disp < 0:
            return -mem.mem.disp
    # `sub sp, #n` (16-bit) or `sub(s).w / subw sp, sp, #n`; a register amount is not known statically
    sp_operands = all(op.type == arm.ARM_OP_REG and op.reg == arm.ARM_REG_SP for op in ops[:-1])
    if insn.id == arm.ARM_INS_SUB and len(ops) >= 2 and sp_operands and ops[-1].type == arm.ARM_OP_IMM:
        return ops[-1].imm
    return 0


def scan_thumb(code: bytes, base: int) -> tuple[int, list[int], int]:
    """(bytes the function moves SP down, summed over its body; direct branch targets; indirect calls) of Thumb code.

    The sum is an upper bound of the function's own depth for straight code (a push undone by a pop and done again
    counts twice). Literal pools are decoded as if they were code; a branch target that is no function start is
    ignored, and a pool word that looks like a stack adjustment only makes the bound larger."""
    down, targets, indirect = 0, [], 0
    for insn in _thumb().disasm(code, base):
        if insn.id == 0:  # skipped data
            continue
        if insn.id in (arm.ARM_INS_B, arm.ARM_INS_BL):  # B, B<cond> (16- and 32-bit), B.W, BL
            targets.append(insn.operands[0].imm)
        elif insn.id == arm.ARM_INS_BLX or (insn.id == arm.ARM_INS_BX and insn.operands[0].reg != arm.ARM_REG_LR):
            indirect += 1  # BLX Rm, or BX Rm other than a return
        else:
            down += _pushed_bytes(insn)
    return down, targets, indirect
