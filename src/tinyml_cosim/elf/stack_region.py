"""The stack region of a firmware that does not paint its own stack (anything not built on cosim.h), and its
high-water mark once an engine has painted it (`tinyml_cosim.engines.qemu.paint` for QEMU): the deepest word no
longer holding the paint word, read at the end of the run through the engine's `read_memory`.

Which region (`stack_region`), first match wins:
1. `--stack-region START:SIZE` on `cosim run`;
2. the linker script's conventions: a `.stack`/`.stack_dummy` section; top `_estack` / `__StackTop` / `__stack_end__`
   / `__stack` / `_stack_top` with bottom `__StackLimit` / `_sstack` / `__stack_start__` / `_stack_bottom`; else,
   as in CubeMX's layout where the stack may grow past `_Min_Stack_Size` into unused RAM, everything from the end
   of the RAM sections (after `._user_heap_stack`'s heap part, `_Min_Heap_Size`) up to the top;
3. the vector table's initial SP as the top, the end of the ELF's RAM sections as the bottom.
The region is clipped to the board's RAM (QEMU does not model CCM on the STM32F4 machines: a stack there cannot be
painted, no region). Firmware built on cosim.h paints its own stack and reports `stack_used` in its EXIT event: no
region for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from elftools.elf.elffile import ELFFile

from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.elf.image import FirmwareImage
from tinyml_cosim.protocol.frames import HOST_CONFIG_SYMBOL

PAINT_WORD = 0xC0511A7E  # the word cosim.h's start-up paints with (firmware/boards/cortex_m/startup.c)
TOP_SYMBOLS = ("_estack", "__StackTop", "__stack_end__", "__stack", "_stack_top", "__stack_top")
BOTTOM_SYMBOLS = ("__StackLimit", "_sstack", "__stack_start__", "_stack_bottom", "__stack_bottom")
SIZE_SYMBOLS = ("_Min_Stack_Size", "__stack_size__", "__STACK_SIZE", "_stack_size", "__stack_size")
HEAP_SIZE_SYMBOLS = ("_Min_Heap_Size", "__heap_size__", "__HEAP_SIZE", "_heap_size", "__heap_size")
STACK_SECTIONS = (".stack", ".stack_dummy")
READ_CHUNK = 1024  # bytes per monitor read while looking for the deepest used word


@dataclass(frozen=True)
class StackRegion:
    start: int
    size: int
    source: str  # how it was found, for the record and the report

    @property
    def top(self) -> int:
        return self.start + self.size


def parse_region(text: str) -> tuple[int, int]:
    """`START:SIZE` (each decimal or 0x-hex) of `--stack-region`."""
    try:
        start, size = (int(part, 0) for part in text.split(":"))
    except ValueError:
        raise BadInput(f"--stack-region {text!r}: expected START:SIZE, e.g. 0x2001f000:0x1000") from None
    if size <= 0 or start < 0 or size % 4 or start % 4:
        raise BadInput(f"--stack-region {text!r}: START and SIZE must be word-aligned and SIZE positive")
    return start, size


def _value(image: FirmwareImage, names: tuple[str, ...]) -> tuple[str, int] | None:
    for n in names:
        if n in image.symbols:
            return n, image.symbols[n][0]
    return None


def _ram_end_of_sections(image: FirmwareImage, board: Board, below: int) -> int:
    """The end of the ELF's RAM sections under `below` (the heap part of CubeMX's reservation counted in)."""
    ram = board.memory.ram
    end = ram.origin
    heap = _value(image, HEAP_SIZE_SYMBOLS)
    for s in image.sections:
        if not ram.contains(s.address, 1) or s.address >= below or s.name in STACK_SECTIONS:
            continue
        if s.name == "._user_heap_stack":
            end = max(end, s.address + (heap[1] if heap else 0))
        else:
            end = max(end, s.address + s.size)
    return (end + 7) & ~7


def stack_region(image: FirmwareImage, board: Board, given: tuple[int, int] | None = None) -> StackRegion | None:
    """The stack region to paint for `image`, or None (cosim.h firmware paints its own; a stack outside the RAM
    QEMU models)."""
    ram = board.memory.ram
    if given is not None:
        start, size = given
        if not ram.contains(start, size):
            raise BadInput(
                f"--stack-region 0x{start:08x}:0x{size:x}: not inside the board's RAM "
                f"0x{ram.origin:08x}..0x{ram.origin + ram.size:08x}"
            )
        return StackRegion(start, size, "--stack-region")
    if image.has_symbol(HOST_CONFIG_SYMBOL):
        return None
    region = _from_symbols(image, board)
    if region is None:
        sp = _initial_sp(image, board)
        if sp is None or not ram.contains(sp - 4, 4):
            return None
        bottom = _ram_end_of_sections(image, board, sp)
        region = StackRegion(bottom, sp - bottom, "the vector table's initial SP down to the end of the RAM sections")
    start = max(region.start, ram.origin)
    end = min(region.top, ram.origin + ram.size)
    if end - start < 64:
        return None
    return StackRegion(start, end - start, region.source)


def _initial_sp(image: FirmwareImage, board: Board) -> int | None:
    """The first word of the vector table at the board's boot address (flash origin), from the ELF's load image."""
    boot = board.memory.flash.origin
    with open(image.path, "rb") as f:
        for seg in ELFFile(f).iter_segments():
            if seg["p_type"] == "PT_LOAD" and seg["p_paddr"] <= boot < seg["p_paddr"] + seg["p_filesz"] - 3:
                off = boot - seg["p_paddr"]
                return int.from_bytes(seg.data()[off : off + 4], "little")
    return None


def _from_symbols(image: FirmwareImage, board: Board) -> StackRegion | None:
    for s in image.sections:
        if s.name in STACK_SECTIONS and board.memory.ram.contains(s.address, 1) and s.size:
            return StackRegion(s.address, s.size, f"the {s.name} section")
    top = _value(image, TOP_SYMBOLS)
    if top is None:
        return None
    bottom = _value(image, BOTTOM_SYMBOLS)
    if bottom is not None and bottom[1] < top[1]:
        return StackRegion(bottom[1], top[1] - bottom[1], f"{bottom[0]} .. {top[0]}")
    end = _ram_end_of_sections(image, board, top[1])
    size = _value(image, SIZE_SYMBOLS)
    how = f"{top[0]} down to the end of the RAM sections"
    if size is not None:
        how += f" ({size[0]} = {size[1]} B is the reservation; the stack may grow past it)"
    return StackRegion(end, top[1] - end, how)


def high_water(read_memory, region: StackRegion) -> int:
    """Bytes of `region` the stack has used: from the deepest word that no longer holds the paint word up to the
    top (the stack grows down). Reads upwards from the bottom in chunks and stops at the first used word."""
    pattern = PAINT_WORD.to_bytes(4, "little")
    address = region.start
    while address < region.top:
        n = min(READ_CHUNK, region.top - address)
        data = read_memory(address, n)
        for i in range(0, n - 3, 4):
            if data[i : i + 4] != pattern:
                return region.top - (address + i)
        address += n
    return 0
