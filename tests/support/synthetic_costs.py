"""Synthetic cycle-model cost tables (the `cosim-cycles-costs 1` format of issue 15) for the cycle plugin's tests
and bench: every instruction of an ELF (from arm-none-eabi-objdump) base 1, taken transfers 2 more, exception
entry 12, with flags read off the mnemonic; flash and cache items as the caller asks. Not the real model (that is
the cycles/ package): numbers simple enough to check the plugin's counting by hand."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.elffile import ELFFile

BASE, TAKEN_EXTRA, EXCEPTION_ENTRY = 1, 2, 12
TIMEBASE = 0x40000024  # TIM2 CNT, the project's instruction timebase
F_LOAD, F_STORE, F_BRANCH, F_WIDE = 1, 2, 4, 8
_COND = "eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al"
_OBJDUMP_LINE = re.compile(r"^\s*([0-9a-f]+):\t((?:[0-9a-f]{4} ?)+)[ \t]*\t(\S+)[ \t]*([^\n@;]*)", re.M)


def insn_flags(mnemonic: str, operands: str, size: int) -> int:
    """Good enough for synthetic tables: what may transfer control and what reads memory, from objdump's text."""
    base = mnemonic.split(".")[0]
    dest = operands.split(",")[0].strip()
    flags = F_WIDE if size == 4 else 0
    if re.fullmatch(rf"(b|bl|bx|blx)({_COND})?|cbn?z|tb[bh]", base) or (
        (re.match(r"pop|ldm", base) and "pc" in operands) or (re.match(r"ldr|mov|add", base) and dest == "pc")
    ):
        flags |= F_BRANCH
    if re.match(r"ldr|ldm|pop|tb[bh]|vldr|vldm|vpop", base):
        flags |= F_LOAD
    if re.match(r"str|stm|push|vstr|vstm|vpush", base):
        flags |= F_STORE
    return flags


@dataclass(frozen=True)
class Insn:
    addr: int
    size: int
    flags: int


def code_of(elf: Path) -> dict[int, Insn]:
    out = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True, check=True)
    code = {}
    for addr, hexes, mnemonic, operands in _OBJDUMP_LINE.findall(out.stdout):
        if not mnemonic.startswith("."):  # .word/.short: literal pools
            size = 2 * len(hexes.split())
            code[int(addr, 16)] = Insn(int(addr, 16), size, insn_flags(mnemonic, operands, size))
    return code


def handlers(elf: Path) -> list[int]:
    """The vector table's exception handlers (entries 2 on; 0 is the stack, 1 the reset entry)."""
    with open(elf, "rb") as fh:
        table = next(sec.data() for sec in ELFFile(fh).iter_sections() if sec["sh_addr"] == 0x08000000)
    words = [int.from_bytes(table[i : i + 4], "little") for i in range(8, len(table) - 3, 4)]
    return sorted({w & ~1 for w in words if w})


def cost_table(code: dict[int, Insn], *items: str, elf: Path | None = None) -> str:
    lines = ["cosim-cycles-costs 1", "# synthetic: base 1, taken +2", "flash 08000000 100000", "flash 0 100000",
             f"exception_entry {EXCEPTION_ENTRY}", f"timebase {TIMEBASE:x}", "class 0 other", "class 1 branch",
             "class 15 unknown", *items]  # fmt: skip
    lines += [f"handler {a:x}" for a in (handlers(elf) if elf else [])]
    for i in code.values():
        lines.append(f"insn {i.addr:x} {i.size} {1 if i.flags & F_BRANCH else 0} {BASE} {TAKEN_EXTRA} {i.flags}")
    return "\n".join(lines) + "\n"
