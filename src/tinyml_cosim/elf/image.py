"""The firmware image: an ELF checked against a board before any emulator starts (pyelftools does the parsing).

Checked at load: the sections fit the chip's memories, and the vector table at the boot address can run (a reset
vector without the Thumb bit is refused; an odd-looking fault handler or initial SP is a warning, `warnings`).
Addresses are named through the symbol table and, where the ELF has DWARF, the source line (`describe`).
"""

from __future__ import annotations

import bisect
import hashlib
import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.construct import ConstructError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from tinyml_cosim.core import cortex_m
from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.inputs import MAX_ELF_BYTES, read_input_bytes

EM_ARM = "EM_ARM"
SHF_ALLOC = SH_FLAGS.SHF_ALLOC


@dataclass(frozen=True)
class ElfSymbol:
    """One entry of an ELF's .symtab as the host uses it: functions at their address without the Thumb bit."""

    name: str  # may be empty (section and local symbols without a name)
    address: int
    size: int
    kind: str  # STT_FUNC, STT_OBJECT, STT_NOTYPE, ...

    @property
    def is_function(self) -> bool:
        return self.kind == "STT_FUNC"


def elf_symbols(elf: ELFFile) -> Iterator[ElfSymbol]:
    """Every .symtab entry in file order (none when the ELF is stripped); the one symbol reader of the project."""
    symtab = elf.get_section_by_name(".symtab")
    if not isinstance(symtab, SymbolTableSection):
        return
    for sym in symtab.iter_symbols():
        kind = sym["st_info"]["type"]
        value = sym["st_value"]
        yield ElfSymbol(sym.name, value & ~1 if kind == "STT_FUNC" else value, sym["st_size"], kind)


@dataclass(frozen=True)
class LoadedSection:
    name: str
    address: int  # where it lives at run time (VMA)
    load_address: int  # where its bytes sit in the image (LMA); differs for .data
    size: int
    writable: bool
    has_bytes: bool


@dataclass
class FirmwareImage:
    path: Path
    sha256: str
    entry: int
    sections: list[LoadedSection]
    symbols: dict[str, tuple[int, int]] = field(repr=False)  # name -> (address, size); functions without Thumb bit
    # What the load check found questionable but runnable (an even fault handler, an initial SP outside RAM): one
    # line each, for the run's output and its diagnosis.
    warnings: list[str] = field(default_factory=list)
    weak: frozenset[str] = field(default_factory=frozenset, repr=False)  # weak symbols (vendor handler aliases)

    @cached_property
    def _sorted_functions(self) -> tuple[list[int], list[tuple[str, int, int]]]:
        # One name per address: a strong symbol before the weak aliases that share it (a vendor start-up's
        # `HardFault_Handler` etc. are weak aliases of `Default_Handler`), then the alphabetically first.
        best: dict[int, tuple[str, int]] = {}
        for name, (addr, size) in sorted(self.symbols.items()):
            if size <= 0:
                continue
            held = best.get(addr)
            if held is None or (held[0] in self.weak and name not in self.weak):
                best[addr] = (name, size)
        funcs = sorted((addr, name, size) for addr, (name, size) in best.items())
        return [f[0] for f in funcs], [(n, a, s) for a, n, s in funcs]

    @cached_property
    def _lines(self) -> tuple[list[int], list[tuple[str, int]]]:
        starts, where = _line_table(self.path)
        return starts, where

    def source_line(self, address: int | None) -> tuple[str, int] | None:
        """(file, line) of the instruction at `address` from the ELF's DWARF line table; None without one."""
        if address is None:
            return None
        starts, where = self._lines
        i = bisect.bisect_right(starts, address & ~1) - 1
        if i < 0 or where[i][1] == 0:
            return None
        return where[i]

    def describe(self, address: int | None) -> str:
        """`0x08000126 in Error_Handler+0x2 (main.c:52)`: the address, its function and its source line, as far as
        the ELF knows them."""
        if address is None:
            return "an unknown address"
        sym = self.symbolize(address)
        text = f"0x{address:08x}" + (f" in {sym}" if sym else " (outside every known function)")
        line = self.source_line(address) if sym else None
        return text + (f" ({line[0]}:{line[1]})" if line else "")

    def symbol(self, name: str) -> int:
        try:
            return self.symbols[name][0]
        except KeyError:
            raise BadInput(f"{self.path}: no symbol {name!r} in the ELF's symbol table") from None

    def has_symbol(self, name: str) -> bool:
        return name in self.symbols

    def symbolize(self, address: int | None) -> str | None:
        """`function+0x12` for an address inside a sized symbol, None when outside all of them."""
        if address is None:
            return None
        address &= ~1
        starts, funcs = self._sorted_functions
        i = bisect.bisect_right(starts, address) - 1
        if i >= 0:
            name, start, size = funcs[i]
            if start <= address < start + size:
                return f"{name}+0x{address - start:x}" if address != start else name
        return None

    def function_range(self, name: str) -> tuple[int, int]:
        addr, size = self.symbols[name]
        return addr, addr + size

    def usage(self, board: Board) -> tuple[int, int]:
        """(flash bytes, static RAM bytes) as the linker placed them."""
        flash = sum(s.size for s in self.sections if s.has_bytes and board.memory.flash.contains(s.load_address, 1))
        ram = sum(s.size for s in self.sections if board.memory.ram.contains(s.address, 1))
        return flash, ram


def load_image(path: Path, board: Board) -> FirmwareImage:
    """Open and validate `path` for `board`; every problem is a BadInput naming the file and what would be right."""
    path = Path(path)
    raw = read_input_bytes(
        path,
        what="firmware ELF",
        max_bytes=MAX_ELF_BYTES,
        missing=" (give the path of a firmware ELF, e.g. from `cosim build`)",
    )
    if raw[:4] != b"\x7fELF":
        raise BadInput(f"{path}: not an ELF file (no ELF magic at its start); give the linked .elf, not a .bin or .hex")
    check_header_bounds(path, raw)
    try:
        with io.BytesIO(raw) as fh:
            elf = ELFFile(fh)
            machine = elf["e_machine"]
            if machine != EM_ARM or elf.elfclass != 32:
                raise BadInput(
                    f"{path}: ELF for {machine} ({elf.elfclass}-bit), but board {board.id} needs a 32-bit ARM "
                    f"({board.core}) ELF; build it with arm-none-eabi-gcc {' '.join(board.compiler.cflags)}"
                )
            sections = []
            for sec in elf.iter_sections():
                if not sec["sh_flags"] & SHF_ALLOC or sec["sh_size"] == 0:
                    continue
                sections.append(
                    LoadedSection(
                        name=sec.name,
                        address=sec["sh_addr"],
                        load_address=_load_address(elf, sec),
                        size=sec["sh_size"],
                        writable=bool(sec["sh_flags"] & SH_FLAGS.SHF_WRITE),
                        has_bytes=sec["sh_type"] != "SHT_NOBITS",
                    )
                )
            symbols: dict[str, tuple[int, int]] = {}
            for sym in elf_symbols(elf):
                if sym.name and sym.kind in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE"):
                    symbols.setdefault(sym.name, (sym.address, sym.size))
            weak = frozenset(_weak_symbols(elf))
            entry = elf["e_entry"]
            vectors = _boot_vectors(elf, board)
    except (ELFError, ConstructError, struct.error, ValueError, IndexError, KeyError, EOFError) as exc:
        # pyelftools reports a header or table that points past the end of the file in several ways.
        raise BadInput(f"{path}: corrupt or truncated ELF ({exc.__class__.__name__}: {str(exc)[:80]})") from None
    if not sections:
        raise BadInput(f"{path}: the ELF has no loadable sections")
    _check_fits(path, board, sections)
    image = FirmwareImage(path, hashlib.sha256(raw).hexdigest(), entry, sections, symbols, weak=weak)
    image.warnings = check_vectors(image, board, vectors)
    return image


# Far above any linked firmware (a handful of program headers, some dozens of sections), far below what makes
# pyelftools walk for minutes: an ELF header claiming more is refused before its tables are read.
MAX_PROGRAM_HEADERS = 256
MAX_SECTIONS = 8192


def check_header_bounds(path: Path, raw: bytes) -> None:
    """Refuse an ELF header whose program or section header table is absurd or lies outside the file."""
    if len(raw) < 16 or raw[4] not in (1, 2) or raw[5] not in (1, 2):
        raise BadInput(f"{path}: corrupt ELF header (unknown class or byte order)")
    is64, order = raw[4] == 2, "<" if raw[5] == 1 else ">"
    layout = struct.Struct(order + ("HHIQQQIHHHHHH" if is64 else "HHIIIIIHHHHHH"))
    if len(raw) < 16 + layout.size:
        raise BadInput(f"{path}: truncated ELF header ({len(raw)} bytes)")
    fields = layout.unpack_from(raw, 16)
    phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx = (*fields[4:6], *fields[8:13])
    ph_size, sh_size = (56, 64) if is64 else (32, 40)
    if phnum > MAX_PROGRAM_HEADERS:
        raise BadInput(f"{path}: ELF header claims {phnum} program headers (at most {MAX_PROGRAM_HEADERS} supported)")
    if shnum > MAX_SECTIONS:
        raise BadInput(f"{path}: ELF header claims {shnum} sections (at most {MAX_SECTIONS} supported)")
    if phnum and (phentsize != ph_size or phoff + phnum * phentsize > len(raw)):
        raise BadInput(f"{path}: corrupt ELF: its program header table lies outside the file or has a wrong entry size")
    if shnum and (shentsize != sh_size or shoff + shnum * shentsize > len(raw)):
        raise BadInput(f"{path}: corrupt ELF: its section header table lies outside the file or has a wrong entry size")
    if not shnum and shoff:
        raise BadInput(f"{path}: ELF with extended section numbering (e_shnum 0) is not supported")
    if shnum and shstrndx >= shnum:
        raise BadInput(f"{path}: corrupt ELF: section name table index {shstrndx} is not one of its {shnum} sections")


def _weak_symbols(elf: ELFFile) -> Iterator[str]:
    symtab = elf.get_section_by_name(".symtab")
    if isinstance(symtab, SymbolTableSection):
        for sym in symtab.iter_symbols():
            if sym.name and sym["st_info"]["bind"] == "STB_WEAK":
                yield sym.name


def _boot_vectors(elf: ELFFile, board: Board) -> list[int]:
    """The words of the vector table the core reads at reset: the bytes the ELF loads at the flash origin (the
    boot address), as many as that section holds, at most the 16 system entries."""
    origin = board.memory.flash.origin
    for seg in elf.iter_segments():
        if seg["p_type"] != "PT_LOAD" or not seg["p_filesz"]:
            continue
        if seg["p_paddr"] <= origin < seg["p_paddr"] + seg["p_filesz"]:
            data = seg.data()[origin - seg["p_paddr"] :][: 4 * cortex_m.SYSTEM_VECTORS]
            return [int.from_bytes(data[i : i + 4], "little") for i in range(0, len(data) - 3, 4)]
    return []


def boot_vectors(path: Path, board: Board) -> list[int]:
    """The system entries of the vector table `path` puts at the boot address (see _boot_vectors)."""
    with open(path, "rb") as fh:
        return _boot_vectors(ELFFile(fh), board)


def check_vectors(image: FirmwareImage, board: Board, vectors: list[int]) -> list[str]:
    """The vector table the core boots from, checked: a reset vector that cannot run is refused (BadInput); an even
    (non-Thumb) or out-of-memory fault handler and an initial SP outside RAM are warnings, one line each.

    An ELF with nothing at the boot address (a RAM-loaded image) has no table to check here."""
    if len(vectors) < 2:
        return []
    mem = board.memory
    rams = [mem.ram] + ([mem.ccm] if mem.ccm else [])

    def runnable(addr: int) -> bool:
        return mem.flash.contains(addr & ~1, 2) or mem.ram.contains(addr & ~1, 2)

    def named(addr: int) -> str:
        sym = image.symbolize(addr)
        return f"0x{addr:08x}" + (f" ({sym})" if sym else "")

    reset = vectors[1]
    where = f"{image.path}: vector table at 0x{mem.flash.origin:08x}"
    if not reset & 1:
        raise BadInput(
            f"{where}: the reset vector {named(reset)} has bit 0 clear (not a Thumb address), so the core faults "
            f"before its first instruction; link the table with the handler's symbol (the linker sets the Thumb bit)"
        )
    if not runnable(reset):
        raise BadInput(
            f"{where}: the reset vector {named(reset)} lies outside {board.id}'s flash "
            f"0x{mem.flash.origin:08x}..0x{mem.flash.end:08x} and RAM; link the image at the flash origin"
        )
    warnings = []
    sp = vectors[0]
    if not any(r.origin < sp <= r.end for r in rams):
        warnings.append(
            f"{where}: the initial SP 0x{sp:08x} lies outside {board.id}'s RAM "
            f"0x{mem.ram.origin:08x}..0x{mem.ram.end:08x} (the first push faults unless the start-up code sets SP "
            f"itself)"
        )
    for number, addr in enumerate(vectors[2:], start=2):
        if addr == 0 or number not in cortex_m.EXCEPTION_NAMES:
            continue  # reserved entries and unused handlers
        exc = cortex_m.exception_name(number)
        if not addr & 1:
            warnings.append(
                f"{where}: the {exc} handler {named(addr)} has bit 0 clear (not a Thumb address): taking {exc} "
                f"faults again (INVSTATE) and locks the core up"
            )
        elif not runnable(addr):
            warnings.append(f"{where}: the {exc} handler {named(addr)} lies outside flash and RAM")
    return warnings


def _line_table(path: Path) -> tuple[list[int], list[tuple[str, int]]]:
    """Address -> (file, line) rows of every DWARF line program, sorted by address; empty without DWARF. The end
    of a sequence is a row with line 0 (no source beyond it)."""
    rows: dict[int, tuple[str, int]] = {}
    try:
        with path.open("rb") as fh:
            elf = ELFFile(fh)
            if not elf.has_dwarf_info():
                return [], []
            dwarf = elf.get_dwarf_info()
            for cu in dwarf.iter_CUs():
                program = dwarf.line_program_for_CU(cu)
                if program is None:
                    continue
                files = program["file_entry"]
                base = 0 if program["version"] >= 5 else 1  # DWARF 5 numbers files from 0
                for entry in program.get_entries():
                    st = entry.state
                    if st is None:
                        continue
                    if st.end_sequence:
                        rows.setdefault(st.address, ("", 0))
                        continue
                    index = st.file - base
                    name = files[index].name.decode(errors="replace") if 0 <= index < len(files) else "?"
                    rows[st.address] = (Path(name).name, st.line)
    except (ELFError, ConstructError, OSError, KeyError, ValueError, IndexError, AttributeError, struct.error):
        return [], []  # DWARF pyelftools cannot read: names from the symbol table only
    except AssertionError:  # pyelftools asserts a .debug_* section it needs is there (a damaged section table)
        return [], []
    starts = sorted(rows)
    return starts, [rows[a] for a in starts]


def _load_address(elf: ELFFile, sec) -> int:
    """The LMA of a section: where the program header that contains it loads its bytes."""
    for seg in elf.iter_segments():
        if seg["p_type"] == "PT_LOAD" and seg.section_in_segment(sec) and sec["sh_type"] != "SHT_NOBITS":
            return seg["p_paddr"] + (sec["sh_addr"] - seg["p_vaddr"])
    return sec["sh_addr"]


def _check_fits(path: Path, board: Board, sections: list[LoadedSection]) -> None:
    flash, ram, ccm = board.memory.flash, board.memory.ram, board.memory.ccm
    for s in sections:
        if not s.has_bytes and ccm is not None and ccm.contains(s.address, s.size):
            continue  # .ccmram and the like: memory the chip has (whether an engine maps it is the engine's gap)
        if s.has_bytes and not flash.contains(s.load_address, s.size) and not ram.contains(s.load_address, s.size):
            raise BadInput(
                f"{path}: section {s.name} (0x{s.load_address:08x}..0x{s.load_address + s.size:08x}, {s.size} B) "
                f"lies outside {board.id}'s flash 0x{flash.origin:08x}..0x{flash.end:08x}; "
                f"link it with the board's linker script"
            )
        if s.writable and not ram.contains(s.address, s.size) and not flash.contains(s.address, s.size):
            raise BadInput(
                f"{path}: section {s.name} (0x{s.address:08x}..0x{s.address + s.size:08x}, {s.size} B) lies outside "
                f"{board.id}'s RAM 0x{ram.origin:08x}..0x{ram.end:08x} ({ram.size // 1024} KiB usable)"
            )
    used_flash = sum(s.size for s in sections if s.has_bytes and flash.contains(s.load_address, 1))
    used_ram = sum(s.size for s in sections if ram.contains(s.address, 1))
    if used_flash > flash.size:
        raise BadInput(f"{path}: needs {used_flash} B of flash, {board.id} has {flash.size} B")
    if used_ram > ram.size:
        raise BadInput(f"{path}: needs {used_ram} B of RAM, {board.id} has {ram.size} B")
