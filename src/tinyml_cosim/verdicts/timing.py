"""Inference time: the exact instruction count of every inference span, and the CPU budget of every window.

Counts are retired instructions (the engines' one time model), never cycles. A time in seconds is
instructions × cycles_per_instruction / f_clk when the board file's `silicon:` block states a calibrated
instructions-to-cycles factor for the run's kernel set (`expect.timing.kernels`, default ref; with its source and
band), otherwise instructions / f_clk ("instruction time"), and the report says which. The factor estimates silicon
latency of inference spans only; CPU load stays in instruction time.
The largest count is the *observed maximum* over the inputs this run saw, not a worst-case execution time.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from statistics import median
from typing import Literal, cast

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tinyml_cosim.core.boards import Board, KernelSet
from tinyml_cosim.run.record import RunRecord, Span


class TimingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    span: str = Field("inference", description="name of the span that is one inference")
    window_period_ms: float | None = Field(
        None, gt=0, description="the period each window's CPU budget is measured against (default: window_s)"
    )
    kernels: KernelSet = Field(
        "ref", description="the firmware's kernel set, which selects the board's silicon factor (ref or cmsis-nn)"
    )


@dataclass(frozen=True)
class CycleFactor:
    """The board's silicon instructions-to-cycles factor for one kernel set, or None (instruction time)."""

    value: float | None
    provenance: str  # the source of the factor, or why there is none
    band: tuple[float, float] | None = None
    kernels: str = "ref"

    @property
    def calibrated(self) -> bool:
        return self.value is not None

    @property
    def basis(self) -> Literal["instruction time", "calibrated cycles"]:
        return "calibrated cycles" if self.calibrated else "instruction time"

    def describe(self) -> str:
        """One line for every report format: the factor, its source and its band (or why there is none)."""
        if not self.calibrated or self.band is None:
            return f"instruction time (instructions / f_clk, no silicon factor): {self.provenance}"
        return (
            f"calibrated cycles: {self.value:g} cycles/instruction for {self.kernels} kernels, band "
            f"{self.band[0]:g} .. {self.band[1]:g} (deadlines checked at {self.band[1]:g}, the unsafe side); "
            f"source: {self.provenance}"
        )


def cycle_factor(board: Board, kernels: str = "ref") -> CycleFactor:
    """The board's calibrated factor for `kernels` from its `silicon:` block; instruction time when the board has
    no silicon data (it says why) or none for this kernel set."""
    si = board.silicon
    if si is None:
        return CycleFactor(None, f"board {board.id} states no silicon calibration", None, kernels)
    if si.unavailable:
        return CycleFactor(None, f"board {board.id}: {si.unavailable}", None, kernels)
    f = si.kernels.get(cast(KernelSet, kernels))  # any name: an unknown one is reported below
    if f is None:
        known = ", ".join(si.kernels)
        return CycleFactor(
            None, f"board {board.id} has silicon factors for {known} kernels, not {kernels}", None, kernels
        )
    where = f"calibrated on {', '.join(f.calibrated_on)} on {f.date}"
    loo = f"; leave-one-out {f.leave_one_out}" if f.leave_one_out else ""
    return CycleFactor(f.cycles_per_instruction, f"{f.source} ({where}{loo})", (f.band.low, f.band.high), kernels)


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

    def seconds(self, instructions: float, at: str = "factor") -> float:
        """Instructions to seconds: instruction time, or silicon time at the factor (`at`: factor, low or high
        end of its band)."""
        f = self.factor
        if not f.calibrated:
            return instructions / self.clock_hz
        value = {"factor": f.value, "low": f.band[0] if f.band else f.value, "high": f.band[1] if f.band else f.value}
        return instructions * float(value[at] or 1.0) / self.clock_hz

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
    return TimingResult(
        cfg.span, counts, ends, record.clock_hz, cycle_factor(board, cfg.kernels), period, source, windows
    )


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
