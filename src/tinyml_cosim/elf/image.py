"""The firmware image: an ELF checked against a board before any emulator starts (pyelftools does the parsing)."""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.errors import BadInput

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

    @cached_property
    def _sorted_functions(self) -> tuple[list[int], list[tuple[str, int, int]]]:
        funcs = sorted((addr, name, size) for name, (addr, size) in self.symbols.items() if size > 0)
        return [f[0] for f in funcs], [(n, a, s) for a, n, s in funcs]

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
    if not path.exists():
        raise BadInput(f"{path}: no such file (give the path of a firmware ELF, e.g. from `cosim build`)")
    if not path.is_file():
        raise BadInput(f"{path}: not a regular file (give the path of a firmware ELF)")
    raw = path.read_bytes()
    if raw[:4] != b"\x7fELF":
        raise BadInput(f"{path}: not an ELF file (starts with {raw[:4]!r}); give the linked .elf, not a .bin or .hex")
    try:
        with path.open("rb") as fh:
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
            entry = elf["e_entry"]
    except ELFError as exc:
        raise BadInput(f"{path}: corrupt or truncated ELF ({exc})") from None
    if not sections:
        raise BadInput(f"{path}: the ELF has no loadable sections")
    _check_fits(path, board, sections)
    return FirmwareImage(path, hashlib.sha256(raw).hexdigest(), entry, sections, symbols)


def _load_address(elf: ELFFile, sec) -> int:
    """The LMA of a section: where the program header that contains it loads its bytes."""
    for seg in elf.iter_segments():
        if seg["p_type"] == "PT_LOAD" and seg.section_in_segment(sec) and sec["sh_type"] != "SHT_NOBITS":
            return seg["p_paddr"] + (sec["sh_addr"] - seg["p_vaddr"])
    return sec["sh_addr"]


def _check_fits(path: Path, board: Board, sections: list[LoadedSection]) -> None:
    flash, ram = board.memory.flash, board.memory.ram
    for s in sections:
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
