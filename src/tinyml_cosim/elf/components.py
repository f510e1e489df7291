"""Flash and RAM per component, and the harness's share, by one rule table (`RULES`) for both ways of knowing
where a byte came from:

- with a GNU ld map (`components_from_map`; `find_map` says which: `--map`, else `<elf stem>.map` or `app.map` beside
  the ELF, else the only `*.map` there): every input section, by the object file it came from
  (`tinyml_cosim.elf.linkmap`), archive members included (`libtflm.a(micro_interpreter.o)`);
- from the ELF alone (`components_from_elf`): each sized symbol, by the DWARF compile unit that defines it
  (pyelftools), its source path taken relative to the unit's compilation directory, so that where a project lies
  on disk (a checkout under a folder named `hal`, `nn`, `kernels`) never decides what its code is. A symbol no unit
  claims (a library built without -g, such as newlib) is "other", so the total always adds up to the sections.

Two levels: `component` (COMPONENTS: the coarse figures reports compare) and `part`, what the code is (PARTS: TFLM
runtime and kernels, CMSIS-NN, CMSIS-DSP, vendor HAL/LL, CMSIS device start-up, newlib/libgcc, the cosim harness, …),
from the same paths plus section names and well-known symbols (`tinyml_cosim.elf.wellknown`):

- model weights: a data symbol whose bytes carry the TFLite flatbuffer identifier "TFL3" at offset 4, whatever its
  name (`g_model`, `model_tflite`, …), and a generated `model.o`'s data;
- tensor arena: a .bss object named like an arena (`tensor_arena`, `g_arena`, `arena`, `*_arena`; `ARENA`);
- stack and heap reservations: the `.stack` section, CubeMX's `._user_heap_stack` split by `_Min_Stack_Size` and
  `_Min_Heap_Size`, CMSIS's `.heap`/`.stack_dummy`, and `__stack_size__`/`__heap_size__` (`reservations`).

Harness: the bytes the co-simulation harness adds to measure — cosim.h's runtime, its host-configuration block
(`.cosim_config`), the Renode mailbox when linked — counted apart by what they are, not by the `cosim_` name prefix
(the project's kernels `cosim_nn_*`, DSP `cosim_rfft_*` and generated models use it too and are the product's): with
a map, the input sections of the project's `hal/cosim_runtime.o` and `.cosim_config`; from DWARF, the symbols of the
compile unit `firmware/hal/cosim_runtime.c` and those declared in `include/cosim*.h` or `ports/`. Only an ELF with
neither falls back to the `cosim_` prefix (an over-count, said in a note)."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from elftools.elf.elffile import ELFFile

from tinyml_cosim.core.resources import FIRMWARE_DIR
from tinyml_cosim.elf.image import ElfSymbol, elf_symbols
from tinyml_cosim.elf.linkmap import InputSection

if TYPE_CHECKING:
    from tinyml_cosim.elf.dwarf_units import UnitIndex
from tinyml_cosim.elf.wellknown import (
    _ARENA_SECTION,
    ARENA,
    RESERVATION_SECTIONS,
    Reservation,
    _demangled_tail,
    model_symbols,
)

COMPONENTS = (
    "model weights",
    "kernels",
    "application",
    "tensor arena",
    "runtime",
    "libc",
    "stack (reserved)",
    "heap (reserved)",
    "padding",
    "other",
)
# What the code is, finer than COMPONENTS (each part belongs to one component: PART_COMPONENT).
PARTS = (
    "model weights",
    "tensor arena",
    "TFLM runtime",
    "TFLM kernels",
    "CMSIS-NN",
    "CMSIS-DSP",
    "project kernels",
    "vendor HAL/LL",
    "CMSIS device start-up",
    "cosim harness",
    "project start-up",
    "application",
    "newlib/libgcc",
    "stack (reserved)",
    "heap (reserved)",
    "padding",
    "other",
)

MAP = "map"  # the path is an object file's, as the linker map names it: <build>/obj/<source path>.o, archive(member)
DWARF = "dwarf"  # the path is a compile unit's source file (relative to its compilation directory where it was)
MODEL = "model"  # a rule's component: "kernels" for the code of a generated model.c, "model weights" for its data


@dataclass(frozen=True)
class Rule:
    component: str
    pattern: re.Pattern[str]  # searched in the lower-cased path
    only: str | None = None  # MAP or DWARF: the rule applies to that kind of path only; None: to both


def _rule(component: str, pattern: str, only: str | None = None) -> Rule:
    return Rule(component, re.compile(pattern), only)


def _own_objects(*dirs: str) -> str:
    """`obj/<dir>/<source>.o` of the project's own start-up and runtime sources, by their file names: a vendor
    project's own obj/hal/main.o is not the project's runtime."""
    names = sorted(
        str(p.relative_to(FIRMWARE_DIR).with_suffix(".o")) for d in dirs for p in (FIRMWARE_DIR / d).rglob("*.c")
    )
    return "/obj/(" + "|".join(re.escape(n.lower()) for n in names) + ")$" if names else r"(?!)"


# The project's own start-up and runtime sources, where DWARF names them (its firmware tree, installed or checked
# out): anchored at tinyml_cosim/firmware/ so that a product's folder named hal/ or boards/ stays the product's.
_OWN_TREE = r"(tinyml_cosim|sim)/firmware/"

# First match wins. Where the two kinds of path need different rules, `only` says which rule is whose, and why.
RULES: tuple[Rule, ...] = (
    # the toolchain's libraries: archives in the map, their sources (when built with -g) in DWARF
    _rule(
        "libc",
        r"(^|/)lib(c|c_nano|m|gcc|nosys|g|g_nano|rdimon|rdimon_nano|stdc\+\+|stdc\+\+_nano|supc\+\+|"
        r"supc\+\+_nano)\.a(\(|$)",
    ),
    _rule("libc", r"newlib|/libc/|/libm/|libgcc|/libstdc\+\+"),
    _rule(MODEL, r"(^|/)model\.[co]$"),
    # The project's kernels (firmware/nn/), which its builds compile to <build>/obj/nn/: anchored at obj/ so that an
    # application whose own path has an nn/ directory in it stays application.
    _rule("kernels", r"/obj/nn/", only=MAP),
    # DWARF names the sources of any build, the project's (<firmware>/nn/) and others' (TFLM's .../kernels/).
    _rule("kernels", r"/nn/|/kernels/", only=DWARF),
    _rule("kernels", r"cmsis-nn|cmsis_nn|tensorflow/lite/micro/kernels/|tensorflow/lite/kernels/"),
    # In the project's builds the only CMSIS code is CMSIS-NN, whatever its checkout is called; in a vendor ELF,
    # Drivers/CMSIS/ holds the device start-up (system_*.c), which is runtime: so only for the map.
    _rule("runtime", r"cmsis/device/", only=MAP),
    _rule("kernels", r"/cmsis", only=MAP),
    _rule("kernels", r"cmsis-dsp|cmsis_dsp|cmsis/dsp/|libarm_cortexm\w*_math\.a"),
    # TFLM's interpreter, allocator and schema code (a libtflm.a / libtensorflow-microlite.a member or its sources)
    _rule("runtime", r"tensorflow/lite/|(^|/)libtflm\w*\.a\(|(^|/)libtensorflow-microlite\w*\.a\("),
    # the project's start-up and cosim.h runtime, by their file names under the build's obj/
    _rule("runtime", _own_objects("boards", "hal"), only=MAP),
    # any build's copy of the project's firmware tree; vendor HAL/LL drivers and vendor start-up files by name
    # (startup_stm32f405xx.s, system_stm32f4xx.c); the map does not go by start-up names: a firmware the project
    # builds keeps its own start-up code in "application".
    _rule("runtime", _OWN_TREE + r"(boards|hal|ports|include)/", only=DWARF),
    _rule("runtime", r"startup[^/]*$|(^|/)system_[^/]*$", only=DWARF),
    _rule("runtime", r"_hal_driver/|(^|/)stm32\w*_(hal|ll)\w*\.[cos]$"),
    # an object file of the build is the application's; what is not one (linker stubs, an archive member of a
    # library not listed above) is "other". A compile unit that no rule above claims is the application's.
    _rule("application", r"\.o$", only=MAP),
    _rule("application", r"", only=DWARF),
)

# What the code is (PARTS), first match wins; the same kinds of path as RULES.
PART_RULES: tuple[Rule, ...] = (
    _rule(
        "newlib/libgcc",
        r"(^|/)lib(c|c_nano|m|gcc|nosys|g|g_nano|rdimon\w*|stdc\+\+\w*|supc\+\+\w*)\.a(\(|$)|"
        r"newlib|/libc/|/libm/|libgcc|/libstdc\+\+",
    ),
    _rule("TFLM kernels", r"tensorflow/lite/micro/kernels/|tensorflow/lite/kernels/"),
    _rule("TFLM runtime", r"tensorflow/lite/|(^|/)libtflm\w*\.a\(|(^|/)libtensorflow-microlite\w*\.a\("),
    _rule("CMSIS-NN", r"cmsis-nn|cmsis_nn|cmsis/nn/|(^|/)libcmsis-?nn\w*\.a\("),
    _rule("CMSIS-DSP", r"cmsis-dsp|cmsis_dsp|cmsis/dsp/|libarm_cortexm\w*_math\.a"),
    _rule("project kernels", r"/obj/nn/", only=MAP),
    _rule("project kernels", _OWN_TREE + r"nn/", only=DWARF),
    _rule("cosim harness", r"/obj/hal/cosim_runtime\.o$", only=MAP),
    _rule("cosim harness", _OWN_TREE + r"(hal|ports|include)/", only=DWARF),
    _rule("project start-up", _own_objects("boards"), only=MAP),
    _rule("project start-up", _OWN_TREE + r"boards/", only=DWARF),
    _rule("vendor HAL/LL", r"_hal_driver/|(^|/)stm32\w*_(hal|ll)\w*\.[cos]$|(^|/)(hal|ll)_driver/"),
    _rule("CMSIS device start-up", r"cmsis/device/|(^|/)startup_[^/]*$|(^|/)system_[^/]*$"),
    _rule("application", r"\.o$", only=MAP),
    _rule("application", r"", only=DWARF),
)

PART_COMPONENT = {
    "model weights": "model weights",
    "tensor arena": "tensor arena",
    "TFLM runtime": "runtime",
    "TFLM kernels": "kernels",
    "CMSIS-NN": "kernels",
    "CMSIS-DSP": "kernels",
    "project kernels": "kernels",
    "vendor HAL/LL": "runtime",
    "CMSIS device start-up": "runtime",
    "cosim harness": "runtime",
    "project start-up": "runtime",
    "application": "application",
    "newlib/libgcc": "libc",
}


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


def part_of(path: str, kind: str) -> str:
    """What the code of an object file (MAP) or compile unit (DWARF) is (one of PARTS)."""
    low = path.lower()
    for rule in PART_RULES:
        if rule.only in (None, kind) and rule.pattern.search(low):
            return rule.component
    return "other"


def component_of_source(path: str, is_code: bool) -> str:
    """The component of a compile unit's source file."""
    return component_of(path, is_code, DWARF)


# --- well-known data: the model, the tensor arena, stack and heap reservations ---------------------------------


def is_harness(section: InputSection) -> bool:
    """Whether an input section belongs to the co-simulation harness rather than to the product: by the object file
    it came from (cosim.h's runtime, hal/cosim_runtime.o) or the host-configuration block, never by a name prefix."""
    if section.source == "*fill*" or section.output == ".stack":
        return False
    return (
        part_of(section.source, MAP) == "cosim harness"
        or section.output == ".cosim_config"
        or section.name == (".cosim_config")
    )


def component_of_input(section: InputSection) -> str:
    """The component of one input section of a linker map."""
    if section.output == ".stack":
        return "stack (reserved)"
    if section.source == "*fill*":
        return "padding"
    return component_of(section.source, not section.name.startswith((".rodata", ".data")), MAP)


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
    """Bytes per component (and per part: what the code is) in flash and in RAM, and how many are the harness's."""

    flash: dict[str, int] = field(default_factory=dict)
    ram: dict[str, int] = field(default_factory=dict)
    harness_flash: int = 0
    harness_ram: int = 0
    parts_flash: dict[str, int] = field(default_factory=dict)
    parts_ram: dict[str, int] = field(default_factory=dict)
    reservation: Reservation = field(default_factory=Reservation)
    rules: list[str] = field(default_factory=list)  # which well-known-data rules fired, for the notes

    def add(self, sec: Placed, comp: str, size: int, part: str | None = None) -> None:
        if part is None:
            part = comp if comp in PARTS else "other"
        if sec.in_flash:
            self.flash[comp] = self.flash.get(comp, 0) + size
            self.parts_flash[part] = self.parts_flash.get(part, 0) + size
        if sec.in_ram:
            self.ram[comp] = self.ram.get(comp, 0) + size
            self.parts_ram[part] = self.parts_ram.get(part, 0) + size

    def harness(self, sec: Placed, size: int) -> None:
        self.harness_flash += size if sec.in_flash else 0
        self.harness_ram += size if sec.in_ram else 0


def _reserve(got: Attribution, sec: Placed) -> bool:
    """A stack/heap reservation section, split into its stack, heap and the rest; True when `sec` was one."""
    kind = RESERVATION_SECTIONS.get(sec.name)
    if kind is None or not sec.in_ram:
        return False
    r = got.reservation
    if kind == "stack":
        got.add(sec, "stack (reserved)", sec.size)
    elif kind == "heap":
        got.add(sec, "heap (reserved)", sec.size)
    else:
        stack = min(r.stack, sec.size)
        heap = min(r.heap, sec.size - stack)
        got.add(sec, "stack (reserved)", stack)
        if heap:
            got.add(sec, "heap (reserved)", heap)
        if sec.size > stack + heap:
            got.add(sec, "padding", sec.size - stack - heap)
    return True


def components_from_map(
    inputs: list[InputSection],
    sections: list[Placed],
    symbols: list[ElfSymbol] | None = None,
    read: Callable[[int, int], bytes | None] | None = None,
    reservation: Reservation | None = None,
    units: UnitIndex | None = None,
) -> Attribution:
    """Attribution of the input sections of a linker map; what the map does not itemise (section alignment,
    linker-generated bytes) is "other". With the ELF's `symbols` and a `read` of its bytes, an input section that
    holds a TFLite model is "model weights" and a .bss arena "tensor arena", whatever object they came from. With
    its DWARF `units`, an archive member the map names only by its object file (`libtflm.a(add.o)`) gets what its
    compile unit's source path says (tensorflow/lite/micro/kernels/add.cc: TFLM kernels)."""
    got = Attribution(reservation=reservation or Reservation())
    by_name = {s.name: s for s in sections}
    models = model_symbols(symbols or [], read) if read is not None else set()
    arenas = {s.address for s in symbols or [] if s.kind == "STT_OBJECT" and ARENA.search(_demangled_tail(s.name))}
    model_starts = sorted(models)
    done: set[str] = set()
    for isec in inputs:
        sec = by_name.get(isec.output)
        if sec is None or isec.size == 0:
            continue
        if sec.name in RESERVATION_SECTIONS and sec.name != ".stack":
            if sec.name not in done:
                done.add(sec.name)
                _reserve(got, sec)
            continue
        comp = component_of_input(isec)
        part = comp if comp in ("padding", "stack (reserved)") else None
        if part is None:
            part = part_of(isec.source, MAP)
            unit = units.unit_at(isec.address) if units is not None and part in _VAGUE else None
            finer = part_of(unit.path, DWARF) if unit is not None else "other"
            if finer not in _VAGUE or (part == "other" and finer != "other"):
                part = finer
                comp = PART_COMPONENT.get(finer, comp)
            if comp == "model weights":
                part = "model weights"
            i = bisect.bisect_left(model_starts, isec.address)
            if i < len(model_starts) and model_starts[i] < isec.address + isec.size:
                comp = part = "model weights"
                got.rules.append('model weights: a symbol with a TFLite flatbuffer ("TFL3" at offset 4)')
            elif (not sec.in_flash and isec.address in arenas) or _ARENA_SECTION.match(isec.name):
                comp = part = "tensor arena"
                got.rules.append("tensor arena: a .bss object named like an arena")
        got.add(sec, comp, isec.size, part)
        if is_harness(isec):
            got.harness(sec, isec.size)
    for sec in sections:  # a reservation section the map lists no input section for (CubeMX's)
        if sec.name in RESERVATION_SECTIONS and sec.name != ".stack" and sec.name not in done:
            _reserve(got, sec)
    rest_flash = sum(s.size for s in sections if s.in_flash) - sum(got.flash.values())
    rest_ram = sum(s.size for s in sections if s.in_ram) - sum(got.ram.values())
    got.add(Placed("", 0, 0, True, False), "other", max(0, rest_flash))
    got.add(Placed("", 0, 0, False, True), "other", max(0, rest_ram))
    got.rules = list(dict.fromkeys(got.rules))
    return got


_VAGUE = ("application", "other", "TFLM runtime")  # map parts a compile unit's source path may refine


def _sized(symbols: Iterable[ElfSymbol]) -> list[ElfSymbol]:
    return [s for s in symbols if s.kind in ("STT_FUNC", "STT_OBJECT") and s.size]


HARNESS_PREFIX = "cosim_"


def _harness_from_symbols(symbols: list[ElfSymbol], sections: list[Placed], got: Attribution) -> None:
    """Harness bytes with neither a map nor DWARF: the `cosim_*` symbols and the `.cosim_config` section (an
    over-count: the project's kernels and DSP routines are named cosim_ too)."""
    for sec in sections:
        if sec.name == ".cosim_config":
            got.harness(sec, sec.size)
            continue
        seen: set[int] = set()
        for sym in symbols:
            if not sym.name.startswith(HARNESS_PREFIX) or not sec.address <= sym.address < sec.address + sec.size:
                continue
            if sym.address in seen:
                continue
            seen.add(sym.address)
            got.harness(sec, min(sym.size, sec.address + sec.size - sym.address))


def harness_from_elf(path: Path, sections: list[Placed]) -> tuple[int, int]:
    """Harness bytes in flash and in RAM from the ELF's symbols alone (for an ELF without a map and without DWARF)."""
    with open(path, "rb") as f:
        symbols = _sized(elf_symbols(ELFFile(f)))
    got = Attribution()
    _harness_from_symbols(symbols, sections, got)
    return got.harness_flash, got.harness_ram
