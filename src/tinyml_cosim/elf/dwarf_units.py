"""The DWARF side of memory attribution (`tinyml_cosim.elf.components` has the rules): which compile unit defines each
address, its source path relative to the unit's compilation directory (the project's own firmware tree recognised
wherever it lay), which functions and variables are declared in cosim.h or its ports (the harness), and the
attribution of an ELF without a map, symbol by symbol (`components_from_elf`)."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from elftools.elf.elffile import ELFFile

from tinyml_cosim.core.resources import FIRMWARE_DIR
from tinyml_cosim.elf.components import (
    _OWN_TREE,
    DWARF,
    Attribution,
    Placed,
    _reserve,
    _sized,
    component_of_source,
    part_of,
)
from tinyml_cosim.elf.image import ElfSymbol, elf_symbols
from tinyml_cosim.elf.wellknown import ARENA, Reservation, _demangled_tail, model_symbols


@dataclass(frozen=True)
class Unit:
    path: str  # the source file relative to the unit's compilation directory when it lies under it, else as named
    full: str = ""  # with its compilation directory (where the project lay on disk)


def _cu_names(cu) -> tuple[str, str]:
    top = cu.get_top_DIE()
    name = top.attributes.get("DW_AT_name")
    comp_dir = top.attributes.get("DW_AT_comp_dir")
    n = name.value.decode(errors="replace") if name else "?"
    return n, comp_dir.value.decode(errors="replace").rstrip("/") if comp_dir else ""


OWN_RUNTIME_UNIT = "hal/cosim_runtime.c"


def _unit_path(cu, own_dirs: frozenset[str] = frozenset()) -> Unit:
    """The unit's source path as the rules read it: relative to its compilation directory (where the project lay on
    disk decides nothing), except the project's own firmware tree (`own_dirs`: the compilation directories of the
    units that are cosim.h's runtime), named `tinyml_cosim/firmware/<path>` wherever it lay, and the toolchain's
    libraries, whose full paths name them."""
    n, d = _cu_names(cu)
    full = str(PurePosixPath(d) / n) if d and not n.startswith("/") else n
    rel = n[len(d) + 1 :] if d and n.startswith(d + "/") else n
    if d in own_dirs and not rel.startswith("/"):
        rel = "tinyml_cosim/firmware/" + rel
    elif re.search("newlib|libgcc|libstdc|" + _OWN_TREE, full.lower()):
        rel = full
    return Unit(rel, full)


def _unit_ranges(dwarf, cu) -> Iterable[tuple[int, int]]:
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


DW_OP_ADDR = 0x03
_HARNESS_DECL = re.compile(r"(^|/)include/cosim[^/]*\.h$|(^|/)ports/[^/]+/cosim[^/]*\.h$|(^|/)cosim\.h$")


def _decl_files(dwarf, cu) -> list[str]:
    lp = dwarf.line_program_for_CU(cu)
    if lp is None:
        return []
    names = []
    for fe in lp.header.file_entry:
        names.append(fe.name.decode(errors="replace") if isinstance(fe.name, bytes) else str(fe.name))
    return names


def _unit_symbols(dwarf, cu):
    """(variable addresses, addresses of functions and variables declared in cosim.h / its ports)."""
    files = _decl_files(dwarf, cu)
    version = cu.header.get("version", 4)
    variables: list[int] = []
    harness: set[int] = set()
    for die in cu.iter_DIEs():
        if die.tag not in ("DW_TAG_variable", "DW_TAG_subprogram"):
            continue
        addr = None
        if die.tag == "DW_TAG_variable":
            loc = die.attributes.get("DW_AT_location")
            if loc is None or not isinstance(loc.value, list) or len(loc.value) != 5 or loc.value[0] != DW_OP_ADDR:
                continue
            addr = int.from_bytes(bytes(loc.value[1:5]), "little")
            variables.append(addr)
            decl = die.attributes.get("DW_AT_decl_file")
            if decl is None and "DW_AT_specification" in die.attributes:
                decl = die.get_DIE_from_attribute("DW_AT_specification").attributes.get("DW_AT_decl_file")
        else:
            lo = die.attributes.get("DW_AT_low_pc")
            if lo is None:
                continue
            addr = lo.value & ~1
            decl = die.attributes.get("DW_AT_decl_file")
            for ref in ("DW_AT_specification", "DW_AT_abstract_origin"):
                if decl is None and ref in die.attributes:
                    decl = die.get_DIE_from_attribute(ref).attributes.get("DW_AT_decl_file")
        if decl is not None:
            i = decl.value - (1 if version < 5 else 0)
            if 0 <= i < len(files) and _HARNESS_DECL.search(files[i]):
                harness.add(addr)
    return variables, harness


class UnitIndex:
    """Address → compile unit, for code ranges and for variables; and which addresses are cosim.h's."""

    def __init__(self, elf: ELFFile) -> None:
        self.starts: list[int] = []
        self.spans: list[tuple[int, int, Unit]] = []
        self.variables: dict[int, Unit] = {}
        self.harness: set[int] = set()
        if not elf.has_dwarf_info():
            return
        dwarf = elf.get_dwarf_info()
        spans: list[tuple[int, int, Unit]] = []
        cus = list(dwarf.iter_CUs())
        own = {str(FIRMWARE_DIR)} | {d for n, d in map(_cu_names, cus) if n.endswith(OWN_RUNTIME_UNIT) and d}
        own_dirs = frozenset(own)
        for cu in cus:
            unit = _unit_path(cu, own_dirs)
            spans += [(lo, hi, unit) for lo, hi in _unit_ranges(dwarf, cu) if hi > lo]
            variables, harness = _unit_symbols(dwarf, cu)
            for addr in variables:
                self.variables.setdefault(addr, unit)
            self.harness |= harness
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


def _elf_reader(elf: ELFFile) -> Callable[[int, int], bytes | None]:
    segs = [
        (seg["p_vaddr"], seg.data())
        for seg in elf.iter_segments()
        if seg["p_type"] == "PT_LOAD" and seg["p_filesz"] > 0
    ]

    def read(addr: int, size: int) -> bytes | None:
        for base, data in segs:
            if base <= addr and addr + size <= base + len(data):
                return data[addr - base : addr - base + size]
        return None

    return read


def elf_facts(path: Path) -> tuple[list[ElfSymbol], Callable[[int, int], bytes | None], UnitIndex]:
    """The ELF's sized symbols, a reader of its loaded bytes and its DWARF units (for the map's attribution)."""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        return _sized(elf_symbols(elf)), _elf_reader(elf), UnitIndex(elf)


def components_from_elf(
    path: Path, sections: list[Placed], reservation: Reservation | None = None
) -> Attribution | None:
    """Attribution from the ELF's symbols and DWARF units, or None when the ELF has no DWARF to attribute symbols
    with. Bytes of a section that no symbol covers (alignment, compiler-generated literals) go to "other"."""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        index = UnitIndex(elf)
        if index.empty:
            return None
        symbols = _sized(elf_symbols(elf))
        read = _elf_reader(elf)
    models = model_symbols(symbols, read)
    got = Attribution(reservation=reservation or Reservation())
    seen: set[int] = set()
    for sec in sections:
        if _reserve(got, sec):
            continue
        covered = 0
        for sym in symbols:
            addr = sym.address
            if not sec.address <= addr < sec.address + sec.size or addr in seen:
                continue
            seen.add(addr)
            unit = index.unit_at(addr)
            size = min(sym.size, sec.address + sec.size - addr)
            covered += size
            if addr in models:
                comp = part = "model weights"
                got.rules.append('model weights: a symbol with a TFLite flatbuffer ("TFL3" at offset 4)')
            elif sym.kind == "STT_OBJECT" and not sec.in_flash and ARENA.search(_demangled_tail(sym.name)):
                comp = part = "tensor arena"
                got.rules.append("tensor arena: a .bss object named like an arena")
            elif unit is None:
                comp = part = "other"
            else:
                comp = component_of_source(unit.path, sym.is_function)
                part = "model weights" if comp == "model weights" else part_of(unit.path, DWARF)
            got.add(sec, comp, size, part)
            if addr in index.harness or (unit is not None and part_of(unit.path, DWARF) == "cosim harness"
                                         and unit.path.lower().endswith(OWN_RUNTIME_UNIT)):  # fmt: skip
                got.harness(sec, size)
        if sec.size > covered:
            got.add(sec, "other", sec.size - covered)
        if sec.name == ".cosim_config":
            got.harness(sec, sec.size - covered)
    got.rules = list(dict.fromkeys(got.rules))
    return got
