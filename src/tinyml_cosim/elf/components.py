"""Flash and RAM per component from the ELF alone, for firmware built without a linker map (a vendor or TFLM ELF):
each sized symbol is attributed to the compile unit that defines it (DWARF, read with pyelftools), and the unit's
source path to a component.

Functions are found through each unit's address ranges (.debug_aranges, else the unit's own low/high pc or ranges),
variables and constant tables through their DW_AT_location (a DW_OP_addr expression). A symbol no unit claims —
code from a library built without -g, such as newlib's — is "other", so the total always adds up to the sections."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from elftools.elf.elffile import ELFFile

from tinyml_cosim.elf.image import elf_symbols

DW_OP_ADDR = 0x03


@dataclass(frozen=True)
class Unit:
    path: str  # the source file, as the compiler named it (with its compilation directory when relative)


def component_of_source(path: str, is_code: bool) -> str:
    """The component a source file belongs to (the same names as the linker-map classification)."""
    p = PurePosixPath(path)
    low = path.lower()
    if p.name == "model.c":
        return "kernels" if is_code else "model weights"
    if any(k in low for k in ("newlib", "/libc/", "/libm/", "libgcc", "/libstdc++")):
        return "libc"
    if "/nn/" in low or "cmsis-nn" in low or "cmsis_nn" in low or "/kernels/" in low or "tensorflow/lite" in low:
        return "kernels"
    if "/boards/" in low or "/hal/" in low or "startup" in p.name.lower() or p.name.startswith("system_"):
        return "runtime"
    return "application"


def _unit_path(cu) -> str:  # type: ignore[no-untyped-def]
    top = cu.get_top_DIE()
    name = top.attributes.get("DW_AT_name")
    comp_dir = top.attributes.get("DW_AT_comp_dir")
    n = name.value.decode(errors="replace") if name else "?"
    if comp_dir and not n.startswith("/"):
        return str(PurePosixPath(comp_dir.value.decode(errors="replace")) / n)
    return n


def _unit_ranges(dwarf, cu) -> Iterable[tuple[int, int]]:  # type: ignore[no-untyped-def]
    top = cu.get_top_DIE()
    lo, hi = top.attributes.get("DW_AT_low_pc"), top.attributes.get("DW_AT_high_pc")
    if "DW_AT_ranges" in top.attributes:
        rl = dwarf.range_lists()
        if rl is not None:
            base = lo.value if lo else 0
            for r in rl.get_range_list_at_offset(top.attributes["DW_AT_ranges"].value, cu=cu):
                if hasattr(r, "begin_offset"):
                    yield base + r.begin_offset, base + r.end_offset
        return
    if lo and hi:
        end = hi.value if hi.form == "DW_FORM_addr" else lo.value + hi.value
        yield lo.value, end


def _variable_addresses(cu) -> Iterable[int]:  # type: ignore[no-untyped-def]
    for die in cu.iter_DIEs():
        if die.tag != "DW_TAG_variable":
            continue
        loc = die.attributes.get("DW_AT_location")
        if loc is None or not isinstance(loc.value, list) or len(loc.value) != 5 or loc.value[0] != DW_OP_ADDR:
            continue
        yield int.from_bytes(bytes(loc.value[1:5]), "little")


class UnitIndex:
    """Address → compile unit, for code ranges and for variables."""

    def __init__(self, elf: ELFFile) -> None:
        self.starts: list[int] = []
        self.spans: list[tuple[int, int, Unit]] = []
        self.variables: dict[int, Unit] = {}
        if not elf.has_dwarf_info():
            return
        dwarf = elf.get_dwarf_info()
        spans: list[tuple[int, int, Unit]] = []
        for cu in dwarf.iter_CUs():
            unit = Unit(_unit_path(cu))
            spans += [(lo, hi, unit) for lo, hi in _unit_ranges(dwarf, cu) if hi > lo]
            for addr in _variable_addresses(cu):
                self.variables.setdefault(addr, unit)
        spans.sort(key=lambda s: s[0])
        self.spans = spans
        self.starts = [s[0] for s in spans]

    @property
    def empty(self) -> bool:
        return not self.spans and not self.variables

    def unit_at(self, address: int) -> Unit | None:
        if address in self.variables:
            return self.variables[address]
        i = bisect.bisect_right(self.starts, address) - 1
        if i >= 0 and self.spans[i][0] <= address < self.spans[i][1]:
            return self.spans[i][2]
        return None


@dataclass(frozen=True)
class Placed:
    """A section as memory accounting sees it: where it runs, and whether it costs flash and/or RAM."""

    name: str
    address: int
    size: int
    in_flash: bool
    in_ram: bool


def components_from_elf(path: Path, sections: list[Placed]) -> tuple[dict[str, int], dict[str, int]] | None:
    """Bytes per component in flash and in RAM, or None when the ELF has no DWARF to attribute symbols with.
    Bytes of a section that no symbol covers (alignment, compiler-generated literals) go to "other"."""
    flash: dict[str, int] = {}
    ram: dict[str, int] = {}
    with open(path, "rb") as f:
        elf = ELFFile(f)
        index = UnitIndex(elf)
        if index.empty:
            return None
        symbols = [s for s in elf_symbols(elf) if s.kind in ("STT_FUNC", "STT_OBJECT") and s.size]
    seen: set[int] = set()
    for sec in sections:
        if sec.name == ".stack":  # the project's linker scripts reserve the stack as its own section
            if sec.in_ram:
                ram["stack (reserved)"] = ram.get("stack (reserved)", 0) + sec.size
            continue
        covered = 0
        for sym in symbols:
            addr = sym.address
            if not sec.address <= addr < sec.address + sec.size or addr in seen:
                continue
            seen.add(addr)
            unit = index.unit_at(addr)
            comp = component_of_source(unit.path, sym.is_function) if unit else "other"
            size = min(sym.size, sec.address + sec.size - addr)
            covered += size
            if sec.in_flash:
                flash[comp] = flash.get(comp, 0) + size
            if sec.in_ram:
                ram[comp] = ram.get(comp, 0) + size
        rest = max(0, sec.size - covered)
        if rest and sec.in_flash:
            flash["other"] = flash.get("other", 0) + rest
        if rest and sec.in_ram:
            ram["other"] = ram.get("other", 0) + rest
    return flash, ram
