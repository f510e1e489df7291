"""Flash and RAM per component, and the harness's share, by one rule table (`RULES`) for both ways of knowing
where a byte came from:

- with the GNU ld map the build writes (`components_from_map`): every input section, by the object file it came
  from (`tinyml_cosim.elf.linkmap`);
- from the ELF alone, for firmware built without a map (a vendor or TFLM ELF, `components_from_elf`): each sized
  symbol, by the DWARF compile unit that defines it (pyelftools). Functions are found through each unit's address
  ranges (.debug_aranges, else the unit's own low/high pc or ranges), variables and constant tables through their
  DW_AT_location (a DW_OP_addr expression). A symbol no unit claims — code from a library built without -g, such as
  newlib's — is "other", so the total always adds up to the sections.

Harness: the bytes the co-simulation harness adds (cosim.h's runtime, its host-configuration block, the Renode
mailbox when linked) are counted apart as well. cosim.h names everything it defines `cosim_*`, so: with a map, an
input section from the project's `hal/cosim_runtime.o` or named after a `cosim_` symbol (`.text.cosim_*`,
`.bss.cosim_*`, `.rodata.cosim_*`, `.cosim_config`); without one, the ELF's `cosim_*` symbols and `.cosim_config`."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from elftools.elf.elffile import ELFFile

from tinyml_cosim.elf.image import ElfSymbol, elf_symbols
from tinyml_cosim.elf.linkmap import InputSection

COMPONENTS = (
    "model weights",
    "kernels",
    "application",
    "runtime",
    "libc",
    "stack (reserved)",
    "padding",
    "other",
)

MAP = "map"  # the path is an object file's, as the linker map names it: <build>/obj/<source path>.o, archive(member)
DWARF = "dwarf"  # the path is a compile unit's source file (with its compilation directory when relative)
MODEL = "model"  # a rule's component: "kernels" for the code of a generated model.c, "model weights" for its data


@dataclass(frozen=True)
class Rule:
    component: str
    pattern: re.Pattern[str]  # searched in the lower-cased path
    only: str | None = None  # MAP or DWARF: the rule applies to that kind of path only; None: to both


def _rule(component: str, pattern: str, only: str | None = None) -> Rule:
    return Rule(component, re.compile(pattern), only)


# First match wins. Where the two kinds of path need different rules, `only` says which rule is whose, and why.
RULES: tuple[Rule, ...] = (
    # the toolchain's libraries: archives in the map, their sources (when built with -g) in DWARF
    _rule("libc", r"(^|/)lib(c|c_nano|m|gcc|nosys|g|g_nano)\.a(\(|$)"),
    _rule("libc", r"newlib|/libc/|/libm/|libgcc|/libstdc\+\+"),
    _rule(MODEL, r"(^|/)model\.[co]$"),
    # The project's kernels (firmware/nn/), which its builds compile to <build>/obj/nn/: anchored at obj/ so that an
    # application whose own path has an nn/ directory in it stays application.
    _rule("kernels", r"/obj/nn/", only=MAP),
    # DWARF names the sources of any build, the project's (<firmware>/nn/) and others' (TFLM's .../kernels/).
    _rule("kernels", r"/nn/|/kernels/", only=DWARF),
    _rule("kernels", r"cmsis-nn|cmsis_nn|tensorflow/lite"),
    # In the project's builds the only CMSIS code is CMSIS-NN, whatever its checkout is called; in a vendor ELF,
    # Drivers/CMSIS/ holds the device start-up (system_*.c), which is runtime: so only for the map.
    _rule("kernels", r"/cmsis", only=MAP),
    # the project's start-up and cosim.h runtime (firmware/boards/, firmware/hal/), anchored at obj/ as above
    _rule("runtime", r"/obj/(boards|hal)/", only=MAP),
    # any build's board and HAL trees, and vendor start-up files by name (startup_stm32f405xx.s, system_stm32f4xx.c);
    # the map does not go by name: a firmware the project builds keeps its own start-up code in "application".
    _rule("runtime", r"/boards/|/hal/|startup[^/]*$|(^|/)system_[^/]*$", only=DWARF),
    # an object file of the build is the application's; what is not one (linker stubs, an archive member of a
    # library not listed above) is "other". A compile unit that no rule above claims is the application's.
    _rule("application", r"\.o$", only=MAP),
    _rule("application", r"", only=DWARF),
)


def component_of(path: str, is_code: bool, kind: str) -> str:
    """The component of an object file (kind MAP) or source file (kind DWARF); `is_code` splits a model's code from
    its weights."""
    low = path.lower()
    for rule in RULES:
        if rule.only in (None, kind) and rule.pattern.search(low):
            if rule.component == MODEL:
                return "kernels" if is_code else "model weights"
            return rule.component
    return "other"


def component_of_source(path: str, is_code: bool) -> str:
    """The component of a compile unit's source file."""
    return component_of(path, is_code, DWARF)


def component_of_input(section: InputSection) -> str:
    """The component of one input section of a linker map."""
    if section.output == ".stack":
        return "stack (reserved)"
    if section.source == "*fill*":
        return "padding"
    return component_of(section.source, not section.name.startswith((".rodata", ".data")), MAP)


HARNESS_PREFIX = "cosim_"
_HARNESS_SECTION = re.compile(rf"^\.(text|rodata|data|bss)\.(__)?{HARNESS_PREFIX}|^\.cosim_config$")


def is_harness(section: InputSection) -> bool:
    """Whether an input section belongs to the co-simulation harness rather than to the product."""
    if section.source == "*fill*" or section.output == ".stack":
        return False
    if Path(section.source.split("(")[0]).name == "cosim_runtime.o" and "/obj/hal/" in section.source:
        return True
    return bool(_HARNESS_SECTION.match(section.name)) or section.output == ".cosim_config"


@dataclass(frozen=True)
class Placed:
    """A section as memory accounting sees it: where it runs, and whether it costs flash and/or RAM."""

    name: str
    address: int
    size: int
    in_flash: bool
    in_ram: bool


@dataclass
class Attribution:
    """Bytes per component in flash and in RAM, and how many of them are the harness's."""

    flash: dict[str, int] = field(default_factory=dict)
    ram: dict[str, int] = field(default_factory=dict)
    harness_flash: int = 0
    harness_ram: int = 0

    def add(self, sec: Placed, comp: str, size: int) -> None:
        if sec.in_flash:
            self.flash[comp] = self.flash.get(comp, 0) + size
        if sec.in_ram:
            self.ram[comp] = self.ram.get(comp, 0) + size


def components_from_map(inputs: list[InputSection], sections: list[Placed]) -> Attribution:
    """Attribution of the input sections of a linker map; what the map does not itemise (section alignment,
    linker-generated bytes) is "other"."""
    got = Attribution()
    by_name = {s.name: s for s in sections}
    for isec in inputs:
        sec = by_name.get(isec.output)
        if sec is None or isec.size == 0:
            continue
        got.add(sec, component_of_input(isec), isec.size)
        if is_harness(isec):
            got.harness_flash += isec.size if sec.in_flash else 0
            got.harness_ram += isec.size if sec.in_ram else 0
    rest_flash = sum(s.size for s in sections if s.in_flash) - sum(got.flash.values())
    rest_ram = sum(s.size for s in sections if s.in_ram) - sum(got.ram.values())
    got.flash["other"] = got.flash.get("other", 0) + max(0, rest_flash)
    got.ram["other"] = got.ram.get("other", 0) + max(0, rest_ram)
    return got


@dataclass(frozen=True)
class Unit:
    path: str  # the source file, as the compiler named it (with its compilation directory when relative)


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


DW_OP_ADDR = 0x03


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


def _sized(symbols: Iterable[ElfSymbol]) -> list[ElfSymbol]:
    return [s for s in symbols if s.kind in ("STT_FUNC", "STT_OBJECT") and s.size]


def _harness_from_symbols(symbols: list[ElfSymbol], sections: list[Placed], got: Attribution) -> None:
    """Harness bytes without a map: the `cosim_*` symbols and the `.cosim_config` section."""
    for sec in sections:
        if sec.name == ".cosim_config":
            got.harness_flash += sec.size if sec.in_flash else 0
            got.harness_ram += sec.size if sec.in_ram else 0
            continue
        seen: set[int] = set()
        for sym in symbols:
            if not sym.name.startswith(HARNESS_PREFIX) or not sec.address <= sym.address < sec.address + sec.size:
                continue
            if sym.address in seen:
                continue
            seen.add(sym.address)
            size = min(sym.size, sec.address + sec.size - sym.address)
            got.harness_flash += size if sec.in_flash else 0
            got.harness_ram += size if sec.in_ram else 0


def harness_from_elf(path: Path, sections: list[Placed]) -> tuple[int, int]:
    """Harness bytes in flash and in RAM from the ELF's symbols alone (for an ELF without a map and without DWARF)."""
    with open(path, "rb") as f:
        symbols = _sized(elf_symbols(ELFFile(f)))
    got = Attribution()
    _harness_from_symbols(symbols, sections, got)
    return got.harness_flash, got.harness_ram


def components_from_elf(path: Path, sections: list[Placed]) -> Attribution | None:
    """Attribution from the ELF's symbols and DWARF units, or None when the ELF has no DWARF to attribute symbols
    with. Bytes of a section that no symbol covers (alignment, compiler-generated literals) go to "other"."""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        index = UnitIndex(elf)
        if index.empty:
            return None
        symbols = _sized(elf_symbols(elf))
    got = Attribution()
    seen: set[int] = set()
    for sec in sections:
        if sec.name == ".stack":  # the project's linker scripts reserve the stack as its own section
            if sec.in_ram:
                got.ram["stack (reserved)"] = got.ram.get("stack (reserved)", 0) + sec.size
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
            got.add(sec, component_of_source(unit.path, sym.is_function) if unit else "other", size)
        if sec.size > covered:
            got.add(sec, "other", sec.size - covered)
    _harness_from_symbols(symbols, sections, got)
    return got
