"""Well-known data a firmware's memory is made of, whoever built it: TFLite models (by their bytes), tensor arenas
(by their names), and the stack and heap reservations of the common linker-script conventions. Used by
`tinyml_cosim.elf.components` for both the map's and the DWARF attribution."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tinyml_cosim.elf.image import ElfSymbol


class Section(Protocol):
    """What the reservation rules read of a section (read-only: frozen dataclasses qualify)."""

    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def in_ram(self) -> bool: ...


TFLITE_IDENTIFIER = b"TFL3"  # a TFLite flatbuffer's file identifier, at offset 4
# A .bss object named like a tensor arena: tensor_arena, g_arena, arena, kTensorArena, model_arena_, ARENA
ARENA = re.compile(r"(^|_|\b)(k?tensor_?)?arena(_\w*)?$|arena_?$", re.IGNORECASE)
_ARENA_SECTION = re.compile(r"^\.bss\.(\w+\.)*(k?tensor_?)?arena\w*$|^\.bss\.\w*_arena$", re.IGNORECASE)
RESERVATION_SECTIONS = {".stack": "stack", ".stack_dummy": "stack", ".heap": "heap", "._user_heap_stack": "both"}
STACK_SIZE_SYMBOLS = ("_Min_Stack_Size", "__stack_size__", "__STACK_SIZE", "_stack_size", "__stack_size")
HEAP_SIZE_SYMBOLS = ("_Min_Heap_Size", "__heap_size__", "__HEAP_SIZE", "_heap_size", "__heap_size")


@dataclass(frozen=True)
class Reservation:
    """Stack and heap the linker script reserves, and the convention that said so."""

    stack: int = 0
    heap: int = 0
    source: str = ""


def _size_symbol(symbols: dict[str, tuple[int, int]], names: tuple[str, ...]) -> tuple[str, int] | None:
    for n in names:
        if n in symbols and 0 < symbols[n][0] < 1 << 24:
            return n, symbols[n][0]
    return None


def reservations(sections: Sequence[Section], symbols: dict[str, tuple[int, int]]) -> Reservation:
    """The stack and heap reservations by the common linker-script conventions: the project's `.stack`, CMSIS's
    `.heap`/`.stack_dummy`, CubeMX's `._user_heap_stack` (split by `_Min_Stack_Size`/`_Min_Heap_Size`), or, with no
    such section, a `__stack_size__`-style symbol alone."""
    stack = heap = 0
    said: list[str] = []
    st, hp = _size_symbol(symbols, STACK_SIZE_SYMBOLS), _size_symbol(symbols, HEAP_SIZE_SYMBOLS)
    for sec in sections:
        kind = RESERVATION_SECTIONS.get(sec.name)
        if kind is None or not sec.in_ram:
            continue
        if kind == "stack":
            stack += sec.size
        elif kind == "heap":
            heap += sec.size
        else:
            s_part = min(st[1], sec.size) if st else sec.size
            h_part = min(hp[1], sec.size - s_part) if hp else 0
            stack, heap = stack + s_part, heap + h_part
            names = ", ".join(n for n, _ in (x for x in (st, hp) if x))
            said.append(f"{sec.name} ({names or 'no size symbols: all of it as stack'})")
            continue
        said.append(sec.name)
    if not said and st:
        stack, said = st[1], [f"{st[0]} = {st[1]}"]
        if hp:
            heap = hp[1]
            said.append(f"{hp[0]} = {hp[1]}")
    return Reservation(stack, heap, ", ".join(said))


def model_symbols(symbols: Iterable[ElfSymbol], read: Callable[[int, int], bytes | None]) -> set[int]:
    """Addresses of the data symbols that are TFLite models: their bytes carry "TFL3" at offset 4."""
    out = set()
    for s in symbols:
        if s.kind == "STT_OBJECT" and s.size >= 8 and read(s.address + 4, 4) == TFLITE_IDENTIFIER:
            out.add(s.address)
    return out


def _demangled_tail(name: str) -> str:
    # `_ZN12_GLOBAL__N_112tensor_arenaE` and similar: the last source-level name of a mangled C++ variable
    m = re.findall(r"\d+([A-Za-z_]\w*?)(?=\d|E|$)", name) if name.startswith("_Z") else []
    return m[-1] if m else name
