"""The memory system the cycle model costs a run with: the board's `cycle_model:` block (schema in
core/memory_system.py: wait states, fetch width, ART caches and prefetch, exception entry, each with its source) and
the variants a benchmark asks for ("ART off"), plus the timebase counter a snapshot is taken at."""

from __future__ import annotations

from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.memory_system import NO_CACHE, Cache, CycleModel, FlashAlias, Sources

__all__ = ["NO_CACHE", "Cache", "CycleModel", "FlashAlias", "Sources", "memory_system", "timebase_address"]


def memory_system(board: Board, icache: bool = True, dcache: bool = True, prefetch: bool | None = None) -> CycleModel:
    """The board's memory system; `icache`/`dcache`/`prefetch` switch the ART as a start-up code other than the
    vendor's default would (the board file describes the default: HAL_Init's)."""
    if board.cycle_model is None:
        raise BadInput(f"board {board.id} has no cycle_model block: add one to platforms/{board.id}.yaml")
    return board.cycle_model.with_art(icache, dcache, prefetch)


def timebase_address(board: Board, memory: CycleModel | None = None) -> int:
    """TIMx_CNT of the board's timebase timer: the plugin snapshots its counters at each load from it."""
    cm = memory or memory_system(board)
    return board.timers.timebase.base + cm.timebase_cnt_offset
