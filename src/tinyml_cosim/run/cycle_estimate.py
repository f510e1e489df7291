"""The cycle model in a run (issue 15): before the start, the ELF's cost table for the QEMU cycles plugin; after the
end, the estimate of the exact binary — every span's and every measured call's cycles, the run's total, categories,
costliest functions and band — written into the run record beside the exact instruction counts.

Simulated time stays instructions / f_clk: the estimate never moves it. The plugin leaves every instruction count as
it was (tests/test_cycle_plugin.py). Runs without the model say why in `RunRecord.cycles_missing`.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyml_cosim.core import resources
from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.errors import EngineError
from tinyml_cosim.cycles import classes, classify, decode, timings
from tinyml_cosim.cycles.costtable import SPAN_FUNCTIONS, write_cost_table
from tinyml_cosim.cycles.decode import StaticCode, decode_elf
from tinyml_cosim.cycles.estimate import CycleEstimate, estimate, snapshot_parts
from tinyml_cosim.cycles.memory_system import CycleModel, memory_system
from tinyml_cosim.elf.image import FirmwareImage
from tinyml_cosim.engines.base import Engine
from tinyml_cosim.engines.qemu import cycleplugin
from tinyml_cosim.run.record import CycleSummary, FunctionCycles, RunRecord, Span

# COSIM_CYCLES=off runs without the cycle plugin (the estimate is then missing, and says so).
CYCLES_ENV = "COSIM_CYCLES"
TOP_FUNCTIONS = 12
_TRM = {"cortex-m4": "Cortex-M4 TRM DDI 0439B tables 3-1, 7-1", "cortex-m3": "Cortex-M3 TRM DDI 0337I table 18-1"}
# The decoded code depends on the ELF, the board's core and these modules: the cache key covers them.
_MODEL_SOURCES = (classes, classify, decode, timings)


@dataclass
class CyclePlan:
    """What a run with the cycle model carries from start to end."""

    static: StaticCode
    model: CycleModel
    costs: Path
    profile: Path

    def qemu_args(self) -> list[str]:
        return cycleplugin.qemu_args(self.costs, self.profile)

    def finish(self, record: RunRecord, board: Board) -> CycleEstimate | None:
        """After the run, before the engine's directory goes: the estimate into the record (module `finish`)."""
        return finish(self, record, board, validation_text(board))


def unavailable(board: Board, engine_name: str, forced: bool = False) -> str | None:
    """Why this run gets no cycle estimate, or None. `forced`: asked for explicitly (`--cycles`), whatever
    $COSIM_CYCLES says."""
    if not forced and os.environ.get(CYCLES_ENV, "").lower() in ("0", "off", "no", "false"):
        return f"{CYCLES_ENV}=off"
    if board.cycle_model is None:
        return f"board {board.id} has no cycle_model block"
    if engine_name != "qemu":
        return f"the cycle model reads QEMU's instruction stream (cycles plugin); engine {engine_name} has none yet"
    return cycleplugin.unavailable_reason()


def plan(image: FirmwareImage, board: Board, workdir: Path) -> CyclePlan:
    """Decode the ELF (cached per ELF, board and model sources) and write its cost table into the run's directory."""
    static = _decoded(image, board)
    workdir.mkdir(parents=True, exist_ok=True)
    costs, profile = workdir / "cycle-costs.txt", workdir / "cycle-profile.bin"
    write_cost_table(costs, image.path, board, static=static)
    return CyclePlan(static, memory_system(board), costs, profile)


def attach(
    engine: Engine, image: FirmwareImage, board: Board, wanted: bool | None
) -> tuple[CyclePlan | None, str | None]:
    """Give the engine the cycles plugin when the run wants it and can have it: (plan, None) or (None, why not).
    `wanted`: True asked for, False refused (`--no-cycles`), None the default (on unless COSIM_CYCLES=off)."""
    why = unavailable(board, engine.name, forced=bool(wanted)) if wanted is not False else "not asked for (--no-cycles)"
    if why is not None:
        return None, why
    try:
        cp = plan(image, board, engine.workdir)
    except Exception as exc:  # the estimate is an addition: a model failure must not cost the run
        return None, f"the cycle model could not read {image.path.name}: {type(exc).__name__}: {exc}"
    engine.plugin_args = tuple(cp.qemu_args())  # type: ignore[attr-defined]  # QemuEngine's
    engine.cycle_profile = cp.profile  # type: ignore[attr-defined]
    return cp, None


def _decoded(image: FirmwareImage, board: Board) -> StaticCode:
    h = hashlib.sha256(image.sha256.encode() + board.id.encode() + (board.core or "").encode())
    for mod in _MODEL_SOURCES:
        h.update(Path(mod.__file__ or "").read_bytes())
    path = resources.build_dir() / "cycles" / f"{h.hexdigest()[:16]}.pickle"
    if path.is_file():
        try:
            with open(path, "rb") as fh:
                cached = pickle.load(fh)  # our own file, content-keyed, in the user's build directory
            if isinstance(cached, StaticCode):
                return cached
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            pass  # a stale or torn cache entry: decode again
    static = decode_elf(image.path, board)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(static, fh)
    tmp.replace(path)
    return static


def describe_model(board: Board, model: CycleModel) -> str:
    """The model in one line, with where its numbers come from."""
    ic = f"{model.icache.lines}x{model.icache.line_bytes} B" if model.icache.lines else "off"
    dc = f"{model.dcache.lines}x{model.dcache.line_bytes} B" if model.dcache.lines else "off"
    return (
        f"{_TRM.get(model.core, model.core)}; {board.id} flash {model.wait_states} wait states at "
        f"{board.clock_hz / 1e6:g} MHz, {model.fetch_bytes}-byte reads, ART I-cache {ic}, D-cache {dc}, prefetch "
        f"{'on' if model.prefetch else 'off'} (board file cycle_model, with its sources)"
    )


def _cost_spans(record: RunRecord, static: StaticCode, profile: cycleplugin.RawProfile) -> bool:
    """Each span's cycles between the plugin's snapshots at the span's own two counter reads; True when every span
    was costed so.

    The firmware's counts are virtual time (TIM2), the plugin's are executed instructions: they differ by a constant
    (the timer starts after reset) plus every sleep (WFI lets virtual time run with nothing executed). So spans are
    found by their reads, not by their counts: the project's runtime reads the counter inside cosim_span_end (one
    SPAN event per read, in order) and cosim_span_begin; a span's begin read lies as many executed instructions
    before its end read as the span's counts say, unless it slept in between. Other firmware (no span functions):
    the snapshot nearest each count, exact where no sleep moved the offset."""
    spans, snaps = record.spans, profile.snapshots
    if not spans:
        return True
    if not len(snaps):
        record.cycles_missing = "span cycles unavailable: the firmware never read the timebase (no snapshot)"
        return False
    ranges = {name: (a, a + size) for a, size, name in static.functions if name in SPAN_FUNCTIONS}
    pcs = snaps["pc"].astype(np.int64)

    def inside(name: str) -> np.ndarray:
        lo, hi = ranges.get(name, (0, 0))
        return np.flatnonzero((pcs >= lo) & (pcs < hi))

    ends, begins = inside("cosim_span_end"), inside("cosim_span_begin")
    by_reads = len(ends) == len(spans)
    if not by_reads:  # not the project's runtime (or a span it could not report): by counts
        pairs: list[tuple[int | None, int | None]] = list(_nearest_pairs(snaps, spans))
    elif len(begins) == len(spans):  # every begin read has its span: the k-th begin read is the k-th begin
        first = {id(sp): int(begins[k]) for k, sp in enumerate(sorted(spans, key=lambda sp: sp.begin))}
        pairs = [(first[id(sp)], int(e)) for sp, e in zip(spans, ends, strict=True)]
    else:  # a span left open at the end: its begin read by its count, where no sleep moved the offset
        by_count = {int(snaps["instructions"][i]): int(i) for i in begins}
        pairs = [
            (by_count.get(sp.begin - (sp.end - int(snaps["instructions"][e]))), int(e))
            for sp, e in zip(spans, ends, strict=True)
        ]
    exact = by_reads
    for span, (b, e) in zip(spans, pairs, strict=True):
        if b is None or e is None:
            exact = False
            continue
        span.cycles = int(snaps["cycles"][e]) - int(snaps["cycles"][b])
        span.cycle_parts = snapshot_parts(snaps[e], snaps[b])
        # Virtual time the span slept (WFI: the timebase ran, nothing executed) is time on silicon too, at the
        # project's time model of one timebase tick per clock cycle.
        slept = (span.end - span.begin) - (int(snaps["instructions"][e]) - int(snaps["instructions"][b]))
        if by_reads and slept > 0:
            span.cycles += slept
            span.cycle_parts["sleep"] = slept
    if not exact and record.cycles_missing is None:
        record.cycles_missing = "some spans were costed at the nearest snapshot, or not at all (no read found)"
    return exact


def _nearest_pairs(snaps: np.ndarray, spans: list[Span]) -> list[tuple[int | None, int | None]]:
    """(begin, end) snapshot indices nearest each span's counts (firmware whose counts are executed instructions)."""
    at = snaps["instructions"].astype(np.int64)
    order = np.argsort(at, kind="stable")

    def nearest(count: int) -> int:
        i = int(np.searchsorted(at[order], count))
        cands = [j for j in (i - 1, i) if 0 <= j < len(order)]
        return int(order[min(cands, key=lambda j: abs(int(at[order[j]]) - count))])

    return [(nearest(s.begin), nearest(s.end)) for s in spans]


def validation_text(board: Board) -> str:
    """The board's measured model error in one line, or why there is none."""
    v = board.cycle_model.validation if board.cycle_model is not None else None
    if v is None:
        return f"not validated against silicon for board {board.id} (the band holds only the model's own ranges)"
    return (
        f"validated: {v.rows} rebuilt rows predicted within {v.error_pct_min:+.1f} .. {v.error_pct_max:+.1f} % of "
        f"published silicon ({v.summary}); the band includes that error"
    )


def _validated_band(board: Board, total: int, low: int, high: int) -> tuple[int, int]:
    """The band: the model's own range (every uncertain instruction at its ends) or, where wider, the estimate
    divided by (1 + error) at the validation's extreme errors — the silicon was that far from the estimate before.
    Not both multiplied: the measured error already holds what the model's ranges stand for."""
    v = board.cycle_model.validation if board.cycle_model is not None else None
    if v is None:
        return low, high
    return min(low, int(total / (1 + v.error_pct_max / 100))), max(high, int(total / (1 + v.error_pct_min / 100) + 0.5))


def finish(cp: CyclePlan, record: RunRecord, board: Board, validation: str = "") -> CycleEstimate | None:
    """Read the profile, estimate, and fill the record: span cycles, measured calls, the summary. None (and
    `record.cycles_missing` says why) when the plugin left no profile."""
    try:
        profile = cycleplugin.read_profile(cp.profile)
    except EngineError as exc:
        record.cycles_missing = str(exc)
        return None
    try:
        est = estimate(profile, cp.static, record.clock_hz)
        exact = _cost_spans(record, cp.static, profile)
    except Exception as exc:  # as in attach(): the verdict stands without its estimate
        record.cycles_missing = f"the cycle estimate failed: {type(exc).__name__}: {exc}"
        return None
    low, high = _validated_band(board, est.cycles, *est.band)
    record.cycles = CycleSummary(
        total=est.cycles,
        low=low,
        high=high,
        instructions=est.instructions,
        categories={k: v for k, v in est.categories.items() if v},
        unknown_instructions=est.unknown_instructions,
        model=describe_model(board, cp.model),
        validation=validation,
        functions=[
            FunctionCycles(name=name, instructions=f.instructions, cycles=f.cycles)
            for name, f in list(est.functions.items())[:TOP_FUNCTIONS]
        ],
        spans_exact=exact,
        problems=est.problems if not est.consistent else [],
    )
    return est
