"""Inference time: the exact instruction count of every inference span, and the CPU budget of every window.

Counts are retired instructions (the engines' one time model), never cycles. A time in seconds is
instructions × cycles_per_instruction / f_clk when the board file states a calibrated instructions-to-cycles
factor (with its provenance), otherwise instructions / f_clk ("instruction time"), and the report says which.
The largest count is the *observed maximum* over the inputs this run saw, not a worst-case execution time.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from statistics import median

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sim.boards import Board
from sim.record import RunRecord, Span


class TimingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    span: str = Field("inference", description="name of the span that is one inference")
    window_period_ms: float | None = Field(
        None, gt=0, description="the period each window's CPU budget is measured against (default: window_s)"
    )


@dataclass(frozen=True)
class CycleFactor:
    value: float | None
    provenance: str

    @property
    def calibrated(self) -> bool:
        return self.value is not None


def cycle_factor(board: Board) -> CycleFactor:
    """The board's calibrated instructions-to-cycles factor, if its file states one (`cycles_per_instruction`,
    a number or a mapping with `value` and `provenance`)."""
    raw = getattr(board, "cycles_per_instruction", None)
    if raw is None:
        return CycleFactor(
            None,
            f"board {board.id} states no cycles_per_instruction: times are instruction time "
            "(instructions / f_clk), not silicon cycles",
        )
    value = getattr(raw, "value", raw)
    provenance = getattr(raw, "provenance", None) or getattr(board, "cycles_per_instruction_provenance", None)
    return CycleFactor(float(value), str(provenance or f"cycles_per_instruction from board {board.id}"))


@dataclass
class WindowLoad:
    index: int
    end_s: float
    busy_instructions: int
    load: float  # busy / period


@dataclass
class TimingResult:
    span: str
    counts: list[int]  # instructions per inference, in order
    ends_s: list[float]  # time each inference ended
    clock_hz: int
    factor: CycleFactor
    period_s: float | None
    period_source: str
    windows: list[WindowLoad]

    @property
    def n(self) -> int:
        return len(self.counts)

    def seconds(self, instructions: float) -> float:
        return instructions * (self.factor.value or 1.0) / self.clock_hz

    @property
    def observed_max_index(self) -> int | None:
        return int(np.argmax(self.counts)) if self.counts else None

    def stats(self) -> dict[str, float | int | None]:
        if not self.counts:
            return {"min": None, "median": None, "p99": None, "observed_maximum": None}
        a = np.asarray(self.counts)
        return {
            "min": int(a.min()),
            "median": float(median(self.counts)),
            "p99": float(np.percentile(a, 99, method="higher")),
            "observed_maximum": int(a.max()),
        }

    @property
    def max_load(self) -> WindowLoad | None:
        return max(self.windows, key=lambda w: w.load) if self.windows else None


def evaluate_timing(
    record: RunRecord,
    board: Board,
    cfg: TimingConfig | None = None,
    window_s: float | None = None,
) -> TimingResult:
    cfg = cfg or TimingConfig()
    spans = [s for s in record.spans if s.name == cfg.span]
    counts = [s.instructions for s in spans]
    ends = [s.end / record.clock_hz for s in spans]
    if cfg.window_period_ms is not None:
        period, source = cfg.window_period_ms / 1000, "scenario timing.window_period_ms"
    elif window_s:
        period, source = window_s, "the decision window"
    elif len(spans) >= 2:
        period = median((b.end - a.end) / record.clock_hz for a, b in pairwise(spans))
        source = "median interval between inferences"
    else:
        period, source = None, "unknown (fewer than two inferences)"
    windows = window_loads(record.spans, spans, period, record.clock_hz) if period else []
    return TimingResult(cfg.span, counts, ends, record.clock_hz, cycle_factor(board), period, source, windows)


def window_loads(all_spans: list[Span], inferences: list[Span], period_s: float, clock_hz: int) -> list[WindowLoad]:
    """Window k is (end of inference k-1, end of inference k]; its busy time is every top-level span ending in it."""
    top = sorted((s for s in all_spans if s.depth == 0), key=lambda s: s.end)
    period_instr = period_s * clock_hz
    out = []
    previous_end = -1
    j = 0
    for k, inf in enumerate(inferences):
        busy = 0
        while j < len(top) and top[j].end <= inf.end:
            if top[j].end > previous_end:
                busy += top[j].instructions
            j += 1
        out.append(WindowLoad(k, inf.end / clock_hz, busy, busy / period_instr))
        previous_end = inf.end
    return out
