"""Memory fit: flash and RAM per output section and per component, the stack high-water mark, against the board.

Sections come from the ELF (pyelftools, `tinyml_cosim.elf.image`). Components come from a GNU ld map file (`--map`,
else `<elf stem>.map` or `app.map` beside the ELF, else the only `*.map` there; read by `tinyml_cosim.elf.linkmap`),
or without one from the ELF's symbols and DWARF units; both by the one rule table of `tinyml_cosim.elf.components`,
which attributes every input section (or symbol) to the object (or source) file it came from, and names what the
code is (`parts_flash`/`parts_ram`: TFLM runtime, TFLM kernels, CMSIS-NN, vendor HAL/LL, …):

| component | object files |
|---|---|
| model weights | data of a generated `model.o`; any symbol holding a TFLite flatbuffer ("TFL3" at offset 4) |
| kernels | `firmware/nn/…`, CMSIS-NN sources, and the code of `model.o` |
| application | the app's own sources |
| tensor arena | a .bss object named like an arena (`tensor_arena`, `g_arena`, `arena`) |
| runtime | the project's start-up and `cosim.h` runtime (`boards/`, `hal/`) |
| libc | `libc*.a`, `libm.a`, `libgcc.a`, `libnosys.a` |
| stack (reserved) | `.stack`, `.stack_dummy`, CubeMX's `._user_heap_stack` (its `_Min_Stack_Size`), `__stack_size__` |
| heap (reserved) | `.heap`, the `_Min_Heap_Size` of CubeMX's `._user_heap_stack` |
| padding | alignment fill between input sections |
| other | anything else (linker-generated) |

Harness: the bytes the co-simulation harness adds (cosim.h's runtime, its host-configuration block, and the Renode
mailbox when linked) are counted apart as well (`harness_flash`, `harness_ram`; the product's are the rest; which
bytes they are: `tinyml_cosim.elf.components`). The limits are checked against the whole image (harness included),
and every memory message says how much of it is the harness.

Policy: a use above `fail_above_pct` of a limit fails, above `warn_above_pct` warns (defaults 90 and 70).

Stack: the measured high-water mark (painted stack, from the EXIT event) and, next to it, the static worst case
from the compiler's `-fstack-usage`/`-fcallgraph-info` output beside the ELF (`tinyml_cosim.elf.stack_static`):
recursion, function pointers and dynamic frames make it unknown (with its known lower bound), never zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from tinyml_cosim.core.boards import Board
from tinyml_cosim.elf.components import (
    COMPONENTS,
    PARTS,
    Attribution,
    Placed,
    components_from_map,
    harness_from_elf,
)
from tinyml_cosim.elf.dwarf_units import components_from_elf, elf_facts
from tinyml_cosim.elf.image import FirmwareImage
from tinyml_cosim.elf.linkmap import parse_map
from tinyml_cosim.elf.stack_static import StaticStack, analyse
from tinyml_cosim.elf.wellknown import Reservation, reservations
from tinyml_cosim.results.model import StackLevelReport, StackPathReport, StackUnknownReport, StaticStackReport
from tinyml_cosim.verdicts.expect import Check, CheckStatus


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flash_bytes: int | None = Field(None, gt=0, description="instead of the board's flash size")
    ram_bytes: int | None = Field(None, gt=0, description="instead of the board's RAM size")


class MemoryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fail_above_pct: float = Field(90.0, gt=0, le=100)
    warn_above_pct: float = Field(70.0, gt=0, le=100)
    limits: Limits = Limits()


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
    parts_flash: dict[str, int] = field(default_factory=dict)  # what the code is (components.PARTS)
    parts_ram: dict[str, int] = field(default_factory=dict)
    heap_reserved: int = 0
    reservation_source: str = ""  # the linker-script convention the stack/heap reservation was read from

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
    placed = [Placed(s.name, s.address, s.size, bool(s.flash), bool(s.ram)) for s in sections]
    reserved = reservations(placed, image.symbols)
    stack_reserved = reserved.stack
    notes: list[str] = []
    map_read = find_map(image.path, map_file)
    got = _components(image.path, placed, map_read, notes, reserved)
    if reserved.source and reserved.source != ".stack":
        notes.append(f"stack reservation {reserved.stack} B, heap {reserved.heap} B from {reserved.source}")
    stack_static = analyse(image.path, board, stack_usage_dir)
    if not stack_static.available:
        notes.append(stack_static.summary())
    limits = policy.limits
    limit_source = f"board {board.id}"
    if limits.flash_bytes or limits.ram_bytes:
        limit_source = "scenario expect.memory.limits"
    return MemoryResult(
        elf=str(image.path),
        map_file=str(map_read) if map_read is not None else None,
        sections=sections,
        components_flash={k: got.flash[k] for k in COMPONENTS if got.flash.get(k)},
        components_ram={k: got.ram[k] for k in COMPONENTS if got.ram.get(k)},
        flash_used=flash_used,
        ram_used=ram_used,
        static_ram=ram_used - stack_reserved - reserved.heap,
        stack_reserved=stack_reserved,
        stack_used=stack_used,
        flash_limit=limits.flash_bytes or flash_r.size,
        ram_limit=limits.ram_bytes or ram_r.size,
        limit_source=limit_source,
        policy=policy,
        notes=notes,
        stack_static=stack_static,
        harness_flash=got.harness_flash,
        harness_ram=got.harness_ram,
        parts_flash={k: got.parts_flash[k] for k in PARTS if got.parts_flash.get(k)},
        parts_ram={k: got.parts_ram[k] for k in PARTS if got.parts_ram.get(k)},
        heap_reserved=reserved.heap,
        reservation_source=reserved.source,
    )


def _components(
    elf: Path, placed: list[Placed], map_read: Path | None, notes: list[str], reserved: Reservation
) -> Attribution:
    if map_read is not None:
        symbols, read, units = elf_facts(elf)
        inputs = parse_map(map_read.read_text(errors="replace"))
        got = components_from_map(inputs, placed, symbols, read, reserved, units)
    else:
        got = _components_without_map(elf, placed, notes, reserved)
    notes += got.rules
    return got


def find_map(elf: Path, given: Path | None = None) -> Path | None:
    """The linker map of an ELF: `given`, else `<stem>.map` or `app.map` beside it, else the only `*.map` there."""
    if given is not None:
        return given if given.is_file() else None
    for name in (elf.with_suffix(".map").name, "app.map"):
        if (elf.parent / name).is_file():
            return elf.parent / name
    maps = sorted(elf.parent.glob("*.map"))
    return maps[0] if len(maps) == 1 else None


def _components_without_map(elf: Path, placed: list[Placed], notes: list[str], reserved: Reservation) -> Attribution:
    """Components from the ELF's symbols and DWARF units; without DWARF, everything is "other" (the harness still
    counted by its symbols)."""
    where = f"no linker map file beside {elf.name} ({elf.stem}.map, app.map or a single *.map; or give --map)"
    got = components_from_elf(elf, placed, reserved)
    if got is not None:
        notes.append(f"{where}: components from the ELF's symbols and DWARF units")
        return got
    notes.append(
        f"{where} and no DWARF: components are not itemised (sections only); harness "
        "bytes counted by the cosim_ name prefix, an over-count"
    )
    harness_flash, harness_ram = harness_from_elf(elf, placed)
    flash = {"other": sum(p.size for p in placed if p.in_flash)}
    ram = {"other": sum(p.size for p in placed if p.in_ram)}
    return Attribution(flash, ram, harness_flash, harness_ram)


def static_stack_report(s: StaticStack | None):
    """The report model of a static stack analysis (tinyml_cosim.results.model.StaticStackReport)."""
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


def static_stack_checks(res: MemoryResult):
    """`memory.stack_static`: the static worst case against the stack reservation, with the same policy as the
    high-water mark; a worst case that is unknown (recursion, function pointers) warns with its lower bound. No
    check when there is nothing to analyse (a foreign ELF: a note says so)."""
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
