"""Where an indirect call may go: the functions whose addresses the firmware stores in data (C++ vtables, const
tables of function pointers such as TFLM's kernel registrations, .init_array/.fini_array), for the static stack
analysis (`tinyml_cosim.elf.stack_static`) to bound a call through a pointer by the deepest of them; and whether the
code holds the addresses of priority registers (then its handlers may nest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from elftools.elf.elffile import ELFFile

from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.cortex_m import NVIC_IPR, SCB_SHPR
from tinyml_cosim.elf.demangle import demangle_all
from tinyml_cosim.elf.thumb import LinkedCode

_SHF_WRITE, _SHF_ALLOC, _SHF_EXECINSTR = 0x1, 0x2, 0x4


def pointer_candidates(elf_path: Path, elf: LinkedCode, board: Board) -> list[int]:
    """Entry addresses of the functions an indirect call may reach, from the function pointers stored in data
    (Thumb addresses, bit 0 set, of a known function start): the read-only data's (vtables, const tables,
    .init_array/.fini_array). Empty — every indirect call unknown — when writable data holds one too: a variable the
    program may point anywhere. The vector table is no call target and is left out."""
    ro: set[int] = set()
    with elf_path.open("rb") as fh:
        for sec in ELFFile(fh).iter_sections():
            flags = sec["sh_flags"]
            if not flags & _SHF_ALLOC or flags & _SHF_EXECINSTR or sec["sh_type"] not in (
                "SHT_PROGBITS", "SHT_INIT_ARRAY", "SHT_FINI_ARRAY", "SHT_PREINIT_ARRAY"
            ):  # fmt: skip
                continue
            if sec.name == ".isr_vector" or sec["sh_addr"] == board.memory.flash.origin:
                continue
            data = sec.data()
            words = np.frombuffer(data[: len(data) // 4 * 4], dtype="<u4")
            hits = {int(w) & ~1 for w in words[(words & 1) == 1] if int(w) & ~1 in elf.starts}
            # writable means in RAM: .init_array is flagged writable but runs from flash
            if flags & _SHF_WRITE and board.memory.ram.contains(sec["sh_addr"], 1) and hits:
                return []
            ro |= hits
    return sorted(ro)


# The NVIC's interrupt priority registers and the SCB's system handler priority registers (core.cortex_m): a
# firmware that has their addresses in its code may set priorities, so its configurable handlers may nest.
_NVIC_IPR = NVIC_IPR
_SCB_SHPR = SCB_SHPR


def writes_priorities(elf: LinkedCode) -> bool:
    """Does the code hold a priority register's address (a literal-pool word, at any halfword offset)?"""
    for _, data in elf.code:
        for start in (0, 2):
            chunk = data[start : start + (len(data) - start) // 4 * 4]
            words = np.frombuffer(chunk, dtype="<u4")
            hit = ((words >= _NVIC_IPR[0]) & (words < _NVIC_IPR[1])) | (
                (words >= _SCB_SHPR[0]) & (words < _SCB_SHPR[1])
            )
            if hit.any():
                return True
    return False


def bounded_note(bounded: list[str], candidates: int) -> str:
    """The summary's words for the functions whose indirect calls were bounded (empty when none were)."""
    if not bounded:
        return ""
    plain = demangle_all(bounded)
    names = ", ".join(plain.get(n, n) for n in bounded[:4]) + (" …" if len(bounded) > 4 else "")
    return (
        f"; calls through function pointers in {names} bounded by the deepest of {candidates} candidates "
        "(functions in vtables and read-only function-pointer tables; pointers made only in code not covered)"
    )
