"""The GNU ld map file (`-Wl,-Map`, `app.map` beside the ELF the build writes): every input section with the output
section it went into and the object file it came from. What each one is (its component, whether it is the
harness's) is `tinyml_cosim.elf.components`' business."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class InputSection:
    output: str
    name: str
    address: int
    size: int
    source: str  # object file, `archive.a(member.o)`, or "*fill*"


_OUT = re.compile(r"^(\.\S+|\S+)(?:\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+))?")
_IN_ONE = re.compile(r"^ (\S+)\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")
_IN_NAME = re.compile(r"^ (\.\S+|COMMON)\s*$")
_IN_CONT = re.compile(r"^\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")
_FILL = re.compile(r"^ \*fill\*\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)")
_SKIP = ("OUTPUT(", "LOAD ", "START GROUP")


def parse_map(text: str) -> list[InputSection]:
    """Input sections of a GNU ld map file, with the output section each went into (none when `text` has no
    "Linker script and memory map" part)."""
    lines = text.splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if ln.startswith("Linker script and memory map"))
    except StopIteration:
        return []
    out: list[InputSection] = []
    output = ""
    pending: str | None = None  # an input section whose name filled its line: address, size and file follow
    for ln in lines[start + 1 :]:
        if not ln.strip() or ln.startswith(_SKIP):
            continue
        if not ln.startswith(" "):
            m = _OUT.match(ln)
            if m:
                output = m.group(1)
            pending = None
            continue
        if pending is not None:
            m = _IN_CONT.match(ln)
            if m:
                out.append(InputSection(output, pending, int(m.group(1), 16), int(m.group(2), 16), m.group(3).strip()))
            pending = None
            continue
        m = _FILL.match(ln)
        if m:
            out.append(InputSection(output, "*fill*", int(m.group(1), 16), int(m.group(2), 16), "*fill*"))
            continue
        m = _IN_ONE.match(ln)
        if m and not ln.startswith(" *("):
            src = m.group(4).strip()
            if not src.startswith("load address"):
                out.append(InputSection(output, m.group(1), int(m.group(2), 16), int(m.group(3), 16), src))
            continue
        m = _IN_NAME.match(ln)
        if m:
            pending = m.group(1)
    return out
