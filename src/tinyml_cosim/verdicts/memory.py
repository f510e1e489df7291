"""Memory fit: flash and RAM per output section and per component, the stack high-water mark, against the board.

Sections come from the ELF (pyelftools, `tinyml_cosim.elf.image`). Components come from the GNU ld map file the build
writes next to the ELF (`app.map`): every input section is attributed to the object file it came from, and the
object file's path says what it is:

| component | object files |
|---|---|
| model weights | read-only data and initialised data of a generated `model.o` |
| kernels | `firmware/nn/…`, CMSIS-NN sources, and the code of `model.o` |
| application | the app's own sources |
| runtime | the project's start-up and `cosim.h` runtime (`boards/`, `hal/`) |
| libc | `libc*.a`, `libm.a`, `libgcc.a`, `libnosys.a` |
| stack (reserved) | the linker script's `.stack` reservation |
| padding | alignment fill between input sections |
| other | anything else (linker-generated) |

Harness: the bytes the co-simulation harness adds (cosim.h's runtime, its host-configuration block, and the Renode
mailbox when linked) are counted apart as well (`harness_flash`, `harness_ram`; the product's are the rest): an input
section is the harness's when it comes from the project's `hal/cosim_runtime.o` or is named after a `cosim_` symbol
(`.text.cosim_*`, `.bss.cosim_*`, `.rodata.cosim_*`, `.cosim_config`), which is how cosim.h names everything it
defines; without a map file, the ELF's `cosim_*` symbols and the `.cosim_config` section. The limits are checked
against the whole image (harness included), and every memory message says how much of it is the harness.

Policy: a use above `fail_above_pct` of a limit fails, above `warn_above_pct` warns (defaults 90 and 70).

Stack: the measured high-water mark (painted stack, from the EXIT event) and, next to it, the static worst case
from the compiler's `-fstack-usage`/`-fcallgraph-info` output beside the ELF (`tinyml_cosim.elf.stack_static`):
recursion, function pointers and dynamic frames make it unknown (with its known lower bound), never zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from tinyml_cosim.core.boards import Board
from tinyml_cosim.elf.image import FirmwareImage
from tinyml_cosim.elf.stack_static import StaticStack, analyse

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


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flash_bytes: int | None = Field(None, gt=0, description="instead of the board's flash size")
    ram_bytes: int | None = Field(None, gt=0, description="instead of the board's RAM size")


class MemoryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fail_above_pct: float = Field(90.0, gt=0, le=100)
    warn_above_pct: float = Field(70.0, gt=0, le=100)
    limits: Limits = Limits()


@dataclass(frozen=True)
class InputSection:
    output: str
    name: str
    address: int
    size: int
    source: str  # object file (or "*fill*")


_OUT = re.compile(r"^(\.\S+|\S+)(?:\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+))?")
_IN_ONE = re.compile(r"^ (\S+)\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")
_IN_NAME = re.compile(r"^ (\.\S+|COMMON)\s*$")
_IN_CONT = re.compile(r"^\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")
_FILL = re.compile(r"^ \*fill\*\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)")


def parse_map(text: str) -> list[InputSection]:
    """Input sections of a GNU ld map file (`-Wl,-Map`), with the output section each went into."""
    lines = text.splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if ln.startswith("Linker script and memory map"))
    except StopIteration:
        return []
    out: list[InputSection] = []
    output = ""
    pending: str | None = None
    for ln in lines[start + 1 :]:
        if not ln.strip():
            continue
        if ln.startswith("OUTPUT(") or ln.startswith("LOAD ") or ln.startswith("START GROUP"):
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


_HARNESS_SECTION = re.compile(r"^\.(text|rodata|data|bss)\.(cosim_|__cosim_)|^\.cosim_config$")


def is_harness(section: InputSection) -> bool:
    """Whether an input section belongs to the co-simulation harness rather than to the product."""
    if section.source == "*fill*" or section.output == ".stack":
        return False
    if Path(section.source.split("(")[0]).name == "cosim_runtime.o" and "/obj/hal/" in section.source:
        return True
    return bool(_HARNESS_SECTION.match(section.name)) or section.output == ".cosim_config"


def classify(section: InputSection) -> str:
    src = section.source
    if section.output == ".stack":
        return "stack (reserved)"
    if src == "*fill*":
        return "padding"
    base = Path(src.split("(")[0]).name
    if re.match(r"lib(c|c_nano|m|gcc|nosys|g|g_nano)\.a$", base):
        return "libc"
    if base == "model.o":
        ro = section.name.startswith((".rodata", ".data"))
        return "model weights" if ro else "kernels"
    if "/obj/nn/" in src or "cmsis-nn" in src.lower() or "/CMSIS" in src:
        return "kernels"
    if "/obj/boards/" in src or "/obj/hal/" in src:
        return "runtime"
    if src.endswith(".o"):
        return "application"
    return "other"


@dataclass
class SectionUse:
    name: str
    address: int
    load_address: int
    size: int
    flash: int  # bytes it takes in flash (its image, at the load address)
    ram: int  # bytes it takes in RAM at run time


@dataclass
class MemoryResult:
    elf: str
    map_file: str | None
    sections: list[SectionUse]
    components_flash: dict[str, int]
    components_ram: dict[str, int]
    flash_used: int
    ram_used: int  # static RAM plus the stack reservation
    static_ram: int  # .data + .bss + other RAM sections, without the stack reservation
    stack_reserved: int
    stack_used: int | None  # high-water mark from the EXIT event (max over runs)
    flash_limit: int
    ram_limit: int
    limit_source: str
    policy: MemoryPolicy
    notes: list[str] = field(default_factory=list)
    stack_static: StaticStack | None = None  # the static worst case (None: not analysed)
    harness_flash: int = 0  # bytes of flash_used that are the harness's (cosim.h runtime, host config)
    harness_ram: int = 0  # bytes of static_ram that are the harness's (also the Renode mailbox when linked)

    def pct(self, used: int, limit: int) -> float:
        return 100.0 * used / limit

    @property
    def product_flash(self) -> int:
        return self.flash_used - self.harness_flash

    @property
    def product_static_ram(self) -> int:
        return self.static_ram - self.harness_ram

    def harness_note(self, what: str) -> str:
        """`of which harness N B (product M B)` for a flash or RAM message."""
        if what == "flash":
            return f"of which harness {self.harness_flash} B (product {self.product_flash} B)"
        return (
            f"of which harness {self.harness_ram} B (product static {self.product_static_ram} B, stack reservation "
            f"{self.stack_reserved} B)"
        )


def _harness_from_elf(path: Path, sections: list[SectionUse]) -> tuple[int, int]:
    """Harness bytes without a map file: the `cosim_*` symbols and the `.cosim_config` section."""
    from elftools.elf.elffile import ELFFile

    flash = ram = 0
    with open(path, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        symbols = list(symtab.iter_symbols()) if symtab is not None else []
    for sec in sections:
        if sec.name == ".cosim_config":
            flash, ram = flash + sec.flash, ram + sec.ram
            continue
        seen: set[int] = set()
        for sym in symbols:
            kind = sym["st_info"]["type"]
            if kind not in ("STT_FUNC", "STT_OBJECT") or not sym["st_size"] or not sym.name.startswith("cosim_"):
                continue
            addr = sym["st_value"] & ~1 if kind == "STT_FUNC" else sym["st_value"]
            if not sec.address <= addr < sec.address + sec.size or addr in seen:
                continue
            seen.add(addr)
            size = min(sym["st_size"], sec.address + sec.size - addr)
            flash += size if sec.flash else 0
            ram += size if sec.ram else 0
    return flash, ram


def evaluate_memory(
    image: FirmwareImage,
    board: Board,
    policy: MemoryPolicy | None = None,
    stack_used: int | None = None,
    map_file: Path | None = None,
    stack_usage_dir: Path | None = None,
) -> MemoryResult:
    policy = policy or MemoryPolicy()
    flash_r, ram_r = board.memory.flash, board.memory.ram
    sections = []
    for s in image.sections:
        in_flash = s.size if s.has_bytes and flash_r.contains(s.load_address, 1) else 0
        in_ram = s.size if ram_r.contains(s.address, 1) else 0
        if in_flash or in_ram:
            sections.append(SectionUse(s.name, s.address, s.load_address, s.size, in_flash, in_ram))
    flash_used = sum(s.flash for s in sections)
    ram_used = sum(s.ram for s in sections)
    stack_reserved = sum(s.ram for s in sections if s.name == ".stack")
    notes: list[str] = []
    comp_flash = dict.fromkeys(COMPONENTS, 0)
    comp_ram = dict.fromkeys(COMPONENTS, 0)
    map_path = map_file if map_file is not None else image.path.with_name("app.map")
    harness_flash = harness_ram = 0
    if map_path.is_file():
        by_name = {s.name: s for s in sections}
        for isec in parse_map(map_path.read_text(errors="replace")):
            use = by_name.get(isec.output)
            if use is None or isec.size == 0:
                continue
            comp = classify(isec)
            harness = is_harness(isec)
            if use.flash:
                comp_flash[comp] += isec.size
                harness_flash += isec.size if harness else 0
            if use.ram:
                comp_ram[comp] += isec.size
                harness_ram += isec.size if harness else 0
        # what the map does not itemise (section alignment, linker-generated bytes) is "other"
        comp_flash["other"] += max(0, flash_used - sum(comp_flash.values()))
        comp_ram["other"] += max(0, ram_used - sum(comp_ram.values()))
    else:
        from tinyml_cosim.elf.components import Placed, components_from_elf

        placed = [Placed(s.name, s.address, s.size, bool(s.flash), bool(s.ram)) for s in sections]
        by_dwarf = components_from_elf(image.path, placed)
        if by_dwarf is None:
            notes.append(f"no linker map file at {map_path} and no DWARF: components are not itemised (sections only)")
            comp_flash["other"], comp_ram["other"] = flash_used, ram_used
        else:
            notes.append(f"no linker map file at {map_path}: components from the ELF's symbols and DWARF units")
            for comp, n in by_dwarf[0].items():
                comp_flash[comp] += n
            for comp, n in by_dwarf[1].items():
                comp_ram[comp] += n
        harness_flash, harness_ram = _harness_from_elf(image.path, sections)
        map_path = None  # type: ignore[assignment]
    stack_static = analyse(image.path, board, stack_usage_dir)
    if not stack_static.available:
        notes.append(stack_static.summary())
    limits = policy.limits
    limit_source = f"board {board.id}"
    if limits.flash_bytes or limits.ram_bytes:
        limit_source = "scenario expect.memory.limits"
    return MemoryResult(
        elf=str(image.path),
        map_file=str(map_path) if map_path is not None else None,
        sections=sections,
        components_flash={k: v for k, v in comp_flash.items() if v},
        components_ram={k: v for k, v in comp_ram.items() if v},
        flash_used=flash_used,
        ram_used=ram_used,
        static_ram=ram_used - stack_reserved,
        stack_reserved=stack_reserved,
        stack_used=stack_used,
        flash_limit=limits.flash_bytes or flash_r.size,
        ram_limit=limits.ram_bytes or ram_r.size,
        limit_source=limit_source,
        policy=policy,
        notes=notes,
        stack_static=stack_static,
        harness_flash=harness_flash,
        harness_ram=harness_ram,
    )


def static_stack_report(s: StaticStack | None):  # type: ignore[no-untyped-def]
    """The report model of a static stack analysis (tinyml_cosim.results.model.StaticStackReport)."""
    from tinyml_cosim.results.model import StackLevelReport, StackPathReport, StackUnknownReport, StaticStackReport

    if s is None:
        return None
    unknown = [StackUnknownReport(kind=u.kind, function=u.function, detail=u.detail) for u in s.unknown]
    thread = None
    if s.thread is not None:
        thread = StackPathReport(bytes=s.thread.bytes, path=list(s.thread.path), known=s.thread.known)
    levels = [
        StackLevelReport(
            priority=lv.priority,
            exception=lv.handler.exception,
            vector=lv.handler.vector,
            handler=lv.handler.function,
            handler_bytes=lv.handler.depth.bytes,
            frame_bytes=lv.frame_bytes,
            path=list(lv.handler.depth.path),
            known=not lv.unknown,
        )
        for lv in s.levels
    ]
    return StaticStackReport(
        available=s.available,
        worst_bytes=s.worst_bytes,
        lower_bound_bytes=s.lower_bound,
        summary=s.summary(),
        thread=thread,
        levels=levels,
        unknown=unknown,
        exception_frame_bytes=s.exception_frame_bytes,
        align_pad_bytes=s.align_pad_bytes,
        priorities=s.priorities_note,
        handlers={h.function: [x.exception for x in s.handlers if x.function == h.function] for h in s.handlers},
    )


def static_stack_checks(res: MemoryResult):  # type: ignore[no-untyped-def]
    """`memory.stack_static`: the static worst case against the stack reservation, with the same policy as the
    high-water mark; a worst case that is unknown (recursion, function pointers) warns with its lower bound. No
    check when there is nothing to analyse (a foreign ELF: a note says so)."""
    from tinyml_cosim.verdicts.expect import Check, CheckStatus

    s = res.stack_static
    if s is None or not s.available or not res.stack_reserved:
        return []
    pol = res.policy
    expected = f"<= {pol.fail_above_pct:g} % (warn above {pol.warn_above_pct:g} %)"
    measured = f"; measured high-water mark {res.stack_used} B" if res.stack_used is not None else ""
    if s.worst_bytes is None:
        low = s.lower_bound or 0
        return [
            Check(
                id="memory.stack_static",
                category="memory",
                expected=expected,
                actual=None,
                unit="%",
                status=CheckStatus.WARN,
                message=f"memory.stack_static: {s.summary()}; at least {100.0 * low / res.stack_reserved:.1f} % of "
                f"the {res.stack_reserved} B reservation{measured}",
            )
        ]
    pct = 100.0 * s.worst_bytes / res.stack_reserved
    status = CheckStatus.PASS
    if pct > pol.fail_above_pct:
        status = CheckStatus.FAIL
    elif pct > pol.warn_above_pct:
        status = CheckStatus.WARN
    word = {"pass": "fits", "warn": "fits, above the warning level", "fail": "does not fit the policy"}[status.value]
    return [
        Check(
            id="memory.stack_static",
            category="memory",
            expected=expected,
            actual=round(pct, 3),
            unit="%",
            status=status,
            message=f"memory.stack_static: static worst case {s.worst_bytes} of {res.stack_reserved} bytes = "
            f"{pct:.1f} %, {word} (fail above {pol.fail_above_pct:g} %, warn above {pol.warn_above_pct:g} %; limit "
            f"from the linker script's .stack reservation){measured}; {s.summary()}",
        )
    ]
