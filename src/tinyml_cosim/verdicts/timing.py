"""Inference time: the exact instruction count of every inference span, and the CPU budget of every window.

Counts are retired instructions (the engines' one time model). A silicon latency comes, in this order, from:
1. the cycle model (tinyml_cosim.cycles) when it ran: every inference span carries its estimated cycles for the
   exact binary on the board's core and memory system, with the band the model's uncertain instructions and its
   validation against silicon give ("estimated cycles"; time = cycles / f_clk);
2. otherwise, as a documented fallback, the board's `silicon:` instructions-to-cycles factor for the run's kernel set
   (`expect.timing.kernels`) — a factor borrowed from other code, with its band ("calibrated cycles");
3. otherwise instructions / f_clk ("instruction time").
The report says which. Estimates concern inference spans only; CPU load stays in instruction time, and simulated
time is always instructions / f_clk. The largest count is the *observed maximum* over the inputs this run saw,
not a worst-case execution time.
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


@dataclass(frozen=True)
class CycleBasis:
    """The cycle model's estimate of one run: the band as ratios to the estimate, and where model and band come from."""

    low_ratio: float
    high_ratio: float
    model: str
    validation: str

    def describe(self) -> str:
        return (
            f"estimated cycles (cycle model of the exact binary: {self.model}); band x{self.low_ratio:.3f} .. "
            f"x{self.high_ratio:.3f} of the estimate (deadlines checked at the upper end, the unsafe side); "
            f"{self.validation or 'not validated against silicon for this board'}"
        )


def cycle_basis(record: RunRecord) -> CycleBasis | None:
    """The run's cycle band, when the cycle model ran and every span got its cycles."""
    c = record.cycles
    if c is None or c.total <= 0:
        return None
    return CycleBasis(c.low / c.total, c.high / c.total, c.model, c.validation)


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
    cycles: list[int] | None = None  # estimated cycles per inference (cycle model), parallel to counts
    cycle_basis: CycleBasis | None = None

    @property
    def n(self) -> int:
        return len(self.counts)

    @property
    def estimated(self) -> bool:
        return self.cycles is not None and self.cycle_basis is not None

    @property
    def basis(self) -> str:
        return "estimated cycles" if self.estimated else self.factor.basis

    def describe(self) -> str:
        if self.cycle_basis is not None and self.estimated:
            return self.cycle_basis.describe()
        return self.factor.describe()

    def cycle_seconds(self, cycles: float, at: str = "factor") -> float:
        """Estimated cycles to seconds at the board clock (`at`: factor = the estimate, low or high end of the band)."""
        b = self.cycle_basis
        ratio = {"factor": 1.0, "low": b.low_ratio if b else 1.0, "high": b.high_ratio if b else 1.0}[at]
        return cycles * ratio / self.clock_hz

    def seconds(self, instructions: float, at: str = "factor") -> float:
        """Instructions to seconds: instruction time, or silicon time at the factor (`at`: factor, low or high
        end of its band). With the cycle model, `cycle_seconds` (cycles are per span)."""
        f = self.factor
        if not f.calibrated:
            return instructions / self.clock_hz
        value = {"factor": f.value, "low": f.band[0] if f.band else f.value, "high": f.band[1] if f.band else f.value}
        return instructions * float(value[at] or 1.0) / self.clock_hz

    @property
    def observed_max_index(self) -> int | None:
        return int(np.argmax(self.counts)) if self.counts else None

    def stats(self, of: str = "instructions") -> dict[str, float | int | None]:
        """min, median, p99 and observed maximum of the instruction counts (or, `of="cycles"`, of the estimates)."""
        values = self.counts if of == "instructions" else (self.cycles or [])
        if not values:
            return {"min": None, "median": None, "p99": None, "observed_maximum": None}
        a = np.asarray(values)
        return {
            "min": int(a.min()),
            "median": float(median(values)),
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
    basis = cycle_basis(record)
    cycles = [s.cycles for s in spans]
    estimated = basis is not None and bool(spans) and all(c is not None for c in cycles)
    return TimingResult(
        cfg.span, counts, ends, record.clock_hz, cycle_factor(board, cfg.kernels), period, source, windows,
        cycles=[int(c or 0) for c in cycles] if estimated else None, cycle_basis=basis if estimated else None,
    )  # fmt: skip


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
