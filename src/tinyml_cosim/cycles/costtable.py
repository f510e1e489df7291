"""The cost table the QEMU cycles plugin reads (format: docs/cycles.md "File formats", `cosim-cycles-costs 1`): the
memory system's parameters for the board, the class names, and one `insn` line per decoded instruction.

Numbers are written in hex with a 0x prefix (addresses, sizes) or decimal (counts, cycles); `#` starts a comment.
"""

from __future__ import annotations

import os
from pathlib import Path

from tinyml_cosim.core.boards import Board
from tinyml_cosim.cycles.classes import CLASS_NAMES, FLAG_KEEP, FLAG_LOAD
from tinyml_cosim.cycles.decode import StaticCode, decode_elf
from tinyml_cosim.cycles.memory_system import CycleModel, memory_system, timebase_address

# The project's runtime's span functions (firmware/include/cosim.h).
SPAN_FUNCTIONS = ("cosim_span_begin", "cosim_span_end")

MAGIC = "cosim-cycles-costs 1"


def cost_table_text(static: StaticCode, board: Board, memory: CycleModel | None = None, label: str = "") -> str:
    """The table's text. `memory` replaces the board's cycle_model (an "ART off" variant: `memory_system(board,
    icache=False, ...)`)."""
    cm = memory or memory_system(board)
    lines = [
        MAGIC,
        f"# {label or 'cost table'}: board {board.id} ({board.core} at {board.clock_hz // 1_000_000} MHz); "
        f"{len(static.insns)} instructions, {static.unknown} unknown",
    ]
    lines += [f"flash 0x{a.origin:08x} 0x{a.size:x}" for a in cm.flash]
    lines += [
        f"wait_states {cm.wait_states}",
        f"fetch_bytes {cm.fetch_bytes}",
        f"prefetch {int(cm.prefetch)}",
        f"icache {cm.icache.lines} {cm.icache.line_bytes}",
        f"dcache {cm.dcache.lines} {cm.dcache.line_bytes}",
        f"exception_entry {cm.exception_entry}",
        f"timebase 0x{timebase_address(board, cm):08x}",
    ]
    if cm.blocks:  # load pipelining across memory blocks (timings.LOAD_BLOCK_SOURCE)
        ids = cm.block_ids()
        lines += [f"block 0x{o:08x} 0x{s:x} {i}" for o, s, i in ids]
        sp = static.initial_sp
        stack = next((i for o, s, i in ids if sp is not None and o < sp <= o + s), None)  # SP starts past its top
        if stack is not None:
            lines.append(f"stack_block {stack}")
    lines += [f"class {cid} {name}" for cid, name in sorted(CLASS_NAMES.items())]
    lines += [f"handler 0x{a:08x}" for a in getattr(static, "handlers", [])]
    lines.append("# insn <addr> <size> <class> <base> <taken_extra> <flags>")
    keep = _span_reads(static)
    lines += [
        f"insn 0x{int(a):08x} {int(s)} {int(k)} {int(b)} {int(t)} {int(f) | (FLAG_KEEP if int(a) in keep else 0)}"
        for a, s, k, b, t, f in zip(
            static.addr, static.size, static.klass, static.base, static.taken_extra, static.flags, strict=True
        )
    ]
    return "\n".join(lines) + "\n"


def _span_reads(static: StaticCode) -> set[int]:
    """Loads inside the project's span functions (cosim.h): their counter reads bound spans, so the plugin keeps
    each of their snapshots even when two come back to back (nested spans begun together)."""
    ranges = [(a, a + size) for a, size, name in static.functions if name in SPAN_FUNCTIONS]
    loads = static.addr[(static.flags & FLAG_LOAD) != 0].tolist()
    return {int(a) for a in loads if any(lo <= a < hi for lo, hi in ranges)}


def write_cost_table(
    path: Path, elf: Path, board: Board, memory: CycleModel | None = None, static: StaticCode | None = None
) -> StaticCode:
    """Decode `elf` for `board` and write its cost table to `path` (atomically: the plugin may be starting). Returns
    the decoded code, which `estimate` needs for the bands and the per-function breakdown."""
    static = static if static is not None else decode_elf(elf, board)
    text = cost_table_text(static, board, memory, label=str(elf))
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)
    return static
