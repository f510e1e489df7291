"""The plugin's profile (execution counts, taken branches, wait-state stalls, snapshots) joined with the cost table:
the cycle estimate of a run — total, categories, functions, spans, the band, and the time at the board clock.

Pure functions over numpy arrays. The total is recomputed from the insn table and the model's own costs and must
equal the plugin's running total exactly (`CycleEstimate.consistent`); a difference means the plugin and the model
read different tables, or the plugin's insn table overflowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from tinyml_cosim.cycles.classes import CATEGORY_OF_CLASS, InsnClass
from tinyml_cosim.cycles.decode import StaticCode

# Profile flags (docs/cycles.md: header word 6).
FLAG_INSNS_FULL, FLAG_SNAPSHOTS_FULL = 1, 2


class ProfileCounters(Protocol):
    @property
    def cycles(self) -> int: ...
    @property
    def exception_cycles(self) -> int: ...
    @property
    def pipeline_breaks(self) -> int: ...


class CycleProfile(Protocol):
    """What the estimate reads of a profile: `engines/qemu/cycleplugin.RawProfile` (its `read_profile()`), named by
    shape so that this package imports no engine (engines may import the model, not the other way round). Read-only
    members: the profile is a frozen snapshot."""

    @property
    def flags(self) -> int: ...
    @property
    def counters(self) -> ProfileCounters: ...
    @property
    def class_cycles(self) -> np.ndarray: ...  # u64[16]
    @property
    def insns(self) -> np.ndarray: ...  # addr, exec, taken (a count), fetch_stall, data_stall
    @property
    def snapshots(self) -> np.ndarray: ...  # instructions, cycles, pc, ...


CATEGORIES = (
    "loads_stores",
    "alu_mac_simd",
    "branches",
    "divides",
    "fpu",
    "system",
    "fetch_wait",
    "data_wait",
    "load_pipeline",  # loads that did not pipeline across memory blocks (in the entries' data stall)
    "exceptions",
    "unknown",
)


@dataclass(frozen=True)
class FunctionCycles:
    instructions: int
    cycles: int


@dataclass(frozen=True)
class SpanCycles:
    """Cycles between the snapshots nearest to a span's (begin, end) instruction counts. `offset_instructions` is how
    many instructions those snapshots lie from the requested counts (both ends together); the cycles can be off by
    at most `error_bound_cycles`: that many instructions at the run's most expensive instruction (its largest
    cycles per execution)."""

    begin: int
    end: int
    cycles: int
    snapshot_begin: int
    snapshot_end: int
    offset_instructions: int
    error_bound_cycles: int
    parts: dict[str, int] = field(default_factory=dict)  # the span's cycles by category (CATEGORIES)


@dataclass
class CycleEstimate:
    instructions: int
    cycles: int  # recomputed from the insn table and the model's costs
    plugin_cycles: int  # the plugin's running total
    band: tuple[int, int]
    clock_hz: int
    categories: dict[str, int]
    functions: dict[str, FunctionCycles]
    spans: list[SpanCycles]
    unknown_instructions: int
    problems: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return self.cycles == self.plugin_cycles and not self.problems

    @property
    def seconds(self) -> float:
        return self.cycles / self.clock_hz

    @property
    def band_seconds(self) -> tuple[float, float]:
        return self.band[0] / self.clock_hz, self.band[1] / self.clock_hz


def _join(static: StaticCode, addr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index into the static arrays, found) for each profile address."""
    if len(static.addr) == 0:
        return np.zeros(len(addr), dtype=np.int64), np.zeros(len(addr), dtype=bool)
    idx = np.searchsorted(static.addr, addr)
    idx = np.minimum(idx, len(static.addr) - 1)
    return idx, static.addr[idx] == addr


def _functions(
    static: StaticCode, addr: np.ndarray, exec_: np.ndarray, cycles: np.ndarray
) -> dict[str, FunctionCycles]:
    funcs: dict[int, tuple[int, str]] = {}
    for a, size, name in static.functions:
        funcs.setdefault(a, (size, name))  # aliases: the first name at an address
    starts = np.array(sorted(funcs), dtype=np.int64)
    owner = np.full(len(addr), -1, dtype=np.int64)
    if len(starts):
        i = np.searchsorted(starts, addr.astype(np.int64), side="right") - 1
        ok = i >= 0
        ends = np.array([s + funcs[int(s)][0] for s in starts], dtype=np.int64)
        ok &= addr.astype(np.int64) < ends[np.maximum(i, 0)]
        owner = np.where(ok, i, -1)
    out: dict[str, FunctionCycles] = {}
    for o in np.unique(owner):
        sel = owner == o
        name = funcs[int(starts[o])][1] if o >= 0 else "(no symbol)"
        out[name] = FunctionCycles(int(exec_[sel].sum()), int(cycles[sel].sum()))
    return dict(sorted(out.items(), key=lambda kv: -kv[1].cycles))


def _spans(profile: CycleProfile, spans: Sequence[tuple[int, int]], max_cpi: int) -> list[SpanCycles]:
    snaps = profile.snapshots
    if not len(spans):
        return []
    if not len(snaps):
        raise ValueError("the profile has no snapshots: the firmware never read the timebase, spans cannot be costed")
    order = np.argsort(snaps["instructions"], kind="stable")
    at = snaps["instructions"][order].astype(np.int64)
    cyc = snaps["cycles"][order].astype(np.int64)

    def nearest(count: int) -> int:
        i = int(np.searchsorted(at, count))
        cands = [j for j in (i - 1, i) if 0 <= j < len(at)]
        return min(cands, key=lambda j: (abs(int(at[j]) - count), j))

    ordered = snaps[order]
    out = []
    for begin, end in spans:
        b, e = nearest(begin), nearest(end)
        offset = abs(int(at[b]) - begin) + abs(int(at[e]) - end)
        parts = snapshot_parts(ordered[e], ordered[b])
        out.append(
            SpanCycles(begin, end, int(cyc[e] - cyc[b]), int(at[b]), int(at[e]), offset, offset * max_cpi, parts)
        )
    return out


def snapshot_parts(end: np.void, begin: np.void) -> dict[str, int]:
    """Cycles between two snapshots by category: base cycles per class, taken transfers, stalls, exceptions."""
    parts = dict.fromkeys(CATEGORIES, 0)
    d_class = end["class_cycles"].astype(np.int64) - begin["class_cycles"].astype(np.int64)
    for cid in range(16):
        parts[CATEGORY_OF_CLASS[InsnClass(cid)]] += int(d_class[cid])
    parts["branches"] += int(end["taken"]) - int(begin["taken"])
    parts["fetch_wait"] = int(end["fetch_stall"]) - int(begin["fetch_stall"])
    breaks = int(end["pipeline_breaks"]) - int(begin["pipeline_breaks"])
    parts["data_wait"] = int(end["data_stall"]) - int(begin["data_stall"]) - breaks
    parts["load_pipeline"] = breaks
    parts["exceptions"] = int(end["exception_cycles"]) - int(begin["exception_cycles"])
    return {k: v for k, v in parts.items() if v}


def _problems(profile: CycleProfile, class_cycles: np.ndarray) -> list[str]:
    """What makes the recomputation disagree with the plugin, said in words."""
    problems = []
    plugin = profile.class_cycles.astype(np.int64)
    if not np.array_equal(plugin, class_cycles):
        diff = [
            f"{InsnClass(c).name.lower()} {int(plugin[c])} vs {int(class_cycles[c])}"
            for c in range(16)
            if plugin[c] != class_cycles[c]
        ]
        problems.append("base cycles per class differ (plugin vs model): " + ", ".join(diff))
    if profile.flags & FLAG_INSNS_FULL:
        problems.append("the plugin's insn table is full: instructions past its capacity are missing from the sums")
    if profile.flags & FLAG_SNAPSHOTS_FULL:
        problems.append("the plugin's snapshot table is full: later spans use the last snapshot kept")
    return problems


def estimate(
    profile: CycleProfile, static: StaticCode, clock_hz: int, spans: Sequence[tuple[int, int]] = ()
) -> CycleEstimate:
    """The estimate of one run: `profile` from the plugin (`cycleplugin.read_profile`), `static` the decoded code
    the cost table was written from, `spans` (begin, end) instruction counts to cost from the snapshots."""
    ins = profile.insns
    addr = ins["addr"].astype(np.uint32)
    exec_ = ins["exec"].astype(np.int64)
    taken = ins["taken"].astype(np.int64)
    fetch = ins["fetch_stall"].astype(np.int64)
    data = ins["data_stall"].astype(np.int64)
    idx, found = _join(static, addr)

    def pick(column: np.ndarray, default: int) -> np.ndarray:
        """The static column at each profile address; `default` where the table has none (the plugin costs an
        instruction it does not find as class unknown, base 1)."""
        if not len(column):
            return np.full(len(addr), default, dtype=np.int64)
        return np.where(found, column[idx], default).astype(np.int64)

    klass = pick(static.klass, int(InsnClass.UNKNOWN))
    base, extra = pick(static.base, 1), pick(static.taken_extra, 0)
    base_lo, base_hi = pick(static.base_lo, 1), pick(static.base_hi, 1)
    tk_lo, tk_hi = pick(static.taken_lo, 0), pick(static.taken_hi, 0)

    base_cycles = exec_ * base
    taken_cycles = taken * extra
    exception_cycles = profile.counters.exception_cycles
    stalls = fetch + data
    per_insn = base_cycles + taken_cycles + stalls
    total = int(per_insn.sum()) + exception_cycles
    low = int((exec_ * base_lo + taken * tk_lo + stalls).sum()) + exception_cycles
    high = int((exec_ * base_hi + taken * tk_hi + stalls).sum()) + exception_cycles

    class_cycles = np.zeros(16, dtype=np.int64)
    np.add.at(class_cycles, klass, base_cycles)  # integer sums (bincount's weights would be float64)
    categories = dict.fromkeys(CATEGORIES, 0)
    for cid in range(16):
        categories[CATEGORY_OF_CLASS[InsnClass(cid)]] += int(class_cycles[cid])
    categories["branches"] += int(taken_cycles.sum())
    categories["fetch_wait"] = int(fetch.sum())
    breaks = min(profile.counters.pipeline_breaks, int(data.sum()))  # in data stall (a full insn table drops some)
    categories["load_pipeline"] = breaks
    categories["data_wait"] = int(data.sum()) - breaks
    categories["exceptions"] = exception_cycles
    unknown = int(exec_[klass == InsnClass.UNKNOWN].sum())
    nz = exec_ > 0
    max_cpi = int(np.max(-(-per_insn[nz] // exec_[nz]))) if nz.any() else 0
    return CycleEstimate(
        instructions=int(exec_.sum()),
        cycles=total,
        plugin_cycles=profile.counters.cycles,
        band=(low, high),
        clock_hz=clock_hz,
        categories=categories,
        functions=_functions(static, addr, exec_, per_insn),
        spans=_spans(profile, spans, max_cpi),
        unknown_instructions=unknown,
        problems=_problems(profile, class_cycles),
    )
