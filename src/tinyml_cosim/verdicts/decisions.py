"""Decision correctness: align the firmware's decisions with the scenario's ground-truth timeline.

The alignment rules (docs/verdicts.md, "Decisions"), for a decision of class c at simulated time t
(t = instructions / f_clk of its DECISION event), covering the window [t - window_s, t]:

1. Unlabelled: no ground-truth segment contains t → not scored.
2. Grace: t lies within `grace_s` after a ground-truth change at t_c (t_c <= t < t_c + grace_s). A decision for
   the label before or after the change is tolerated and not scored (the firmware may still be deciding on
   samples of the old label, or has just switched); any other class is scored against the label at t, i.e. wrong.
   Default grace_s = window_s + debounce_s (one window plus the app's stated debounce).
3. Straddle: the window overlaps more than one label (possible when grace_s < window_s): `majority` (default)
   scores against the label covering most of the window; `ignore` does not score it; `either` counts it correct
   when c is one of the labels covered, else scores it against the majority label.
4. Otherwise the decision is scored against the label at t.

Events are maximal stretches of one label other than the background class (default: the first segment's label).
An event [t0, t1) is detected by the first decision of its class in [t0, t1 + tolerance_s]; detection latency is
that decision's time minus t0. An alarm is a decision of a non-background class whose predecessor decided
something else; it is false when no event of its class covers its time (with tolerance_s after the event's end).
False alarms per hour are over the scenario's simulated duration.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from statistics import median
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tinyml_cosim.run.record import RunRecord

Straddle = Literal["majority", "ignore", "either"]
DecisionStatus = Literal["scored", "grace", "straddle", "unlabelled"]


class Alignment(BaseModel):
    """How decisions are matched to the ground truth; every field is stated in the report."""

    model_config = ConfigDict(extra="forbid")

    window_s: float | None = Field(None, gt=0, description="the window each decision covers (default: MARK window_ms)")
    debounce_s: float | None = Field(None, ge=0, description="the app's debounce (default: MARK debounce_ms, else 0)")
    grace_s: float | None = Field(None, ge=0, description="after a ground-truth change (default window + debounce)")
    straddle: Straddle = "majority"
    tolerance_s: float | None = Field(None, ge=0, description="event matching after an event's end (default grace)")
    background: str | None = Field(None, description="the no-event class (default: the first segment's label)")


@dataclass(frozen=True)
class Decision:
    index: int
    t_s: float
    cls: str
    score: int | None


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    label: str


@dataclass(frozen=True)
class ScoredDecision:
    decision: Decision
    truth: str | None
    status: DecisionStatus

    @property
    def correct(self) -> bool:
        return self.status == "scored" and self.truth == self.decision.cls


@dataclass(frozen=True)
class Event:
    label: str
    start_s: float
    end_s: float
    detected_s: float | None

    @property
    def latency_s(self) -> float | None:
        return None if self.detected_s is None else self.detected_s - self.start_s


@dataclass
class ResolvedAlignment:
    window_s: float
    debounce_s: float
    grace_s: float
    straddle: Straddle
    tolerance_s: float
    background: str | None
    sources: dict[str, str] = field(default_factory=dict)  # field -> where its value came from


@dataclass
class DecisionResult:
    alignment: ResolvedAlignment
    scored: list[ScoredDecision]
    events: list[Event]
    false_alarms: list[float]  # times of false alarms
    duration_s: float
    labels: list[str]

    @property
    def confusion(self) -> dict[str, dict[str, int]]:
        """truth -> predicted -> count, over scored decisions; every label and predicted class appears."""
        classes = sorted(set(self.labels) | {s.decision.cls for s in self.scored if s.status == "scored"})
        m = {t: dict.fromkeys(classes, 0) for t in classes}
        for s in self.scored:
            if s.status == "scored" and s.truth is not None:
                m[s.truth][s.decision.cls] += 1
        return m

    @property
    def n_scored(self) -> int:
        return sum(s.status == "scored" for s in self.scored)

    @property
    def n_correct(self) -> int:
        return sum(s.correct for s in self.scored)

    @property
    def accuracy(self) -> float | None:
        return self.n_correct / self.n_scored if self.n_scored else None

    def precision_counts(self, cls: str) -> tuple[int, int]:
        """(correct decisions of cls, scored decisions of cls)."""
        pred = [s for s in self.scored if s.status == "scored" and s.decision.cls == cls]
        return sum(s.truth == cls for s in pred), len(pred)

    def recall_counts(self, cls: str) -> tuple[int, int]:
        """(decisions of cls where the truth is cls, scored decisions where the truth is cls)."""
        true = [s for s in self.scored if s.status == "scored" and s.truth == cls]
        return sum(s.decision.cls == cls for s in true), len(true)

    def events_of(self, cls: str | None = None) -> list[Event]:
        return [e for e in self.events if cls is None or e.label == cls]

    def missed(self, cls: str | None = None) -> int:
        return sum(e.detected_s is None for e in self.events_of(cls))

    def latency_max_s(self, cls: str | None = None) -> float | None:
        """Worst detection latency over the events; None when there is no event or one was missed."""
        evs = self.events_of(cls)
        if not evs or any(e.detected_s is None for e in evs):
            return None
        return max(e.latency_s or 0.0 for e in evs)

    @property
    def false_alarms_per_hour(self) -> float:
        return len(self.false_alarms) / (self.duration_s / 3600.0)


def decisions_from_record(record: RunRecord) -> list[Decision]:
    out: list[Decision] = []
    for e in record.events:
        if e.kind == "DECISION":
            score = e.fields.get("score")
            out.append(
                Decision(
                    index=len(out),
                    t_s=e.instructions / record.clock_hz,
                    cls=e.fields.get("class", "?"),
                    score=int(score) if score is not None and score.lstrip("-").isdigit() else None,
                )
            )
    return out


def marks_from_record(record: RunRecord) -> dict[str, int]:
    marks: dict[str, int] = {}
    for e in record.events:
        if e.kind == "MARK" and "name" in e.fields:
            v = e.fields.get("value", "0")
            if v.lstrip("-").isdigit():
                marks.setdefault(e.fields["name"], int(v))
    return marks


def resolve_alignment(
    cfg: Alignment, marks: dict[str, int], decisions: Sequence[Decision], segments: Sequence[Segment]
) -> ResolvedAlignment:
    sources: dict[str, str] = {}
    if cfg.window_s is not None:
        window, sources["window_s"] = cfg.window_s, "scenario"
    elif "window_ms" in marks and marks["window_ms"] > 0:
        window, sources["window_s"] = marks["window_ms"] / 1000, "firmware MARK window_ms"
    elif len(decisions) >= 2:
        window = median(b.t_s - a.t_s for a, b in pairwise(decisions))
        sources["window_s"] = "median interval between decisions"
    else:
        window, sources["window_s"] = 0.0, "unknown (fewer than two decisions)"
    if cfg.debounce_s is not None:
        debounce, sources["debounce_s"] = cfg.debounce_s, "scenario"
    elif "debounce_ms" in marks:
        debounce, sources["debounce_s"] = max(marks["debounce_ms"], 0) / 1000, "firmware MARK debounce_ms"
    else:
        debounce, sources["debounce_s"] = 0.0, "default (none stated)"
    if cfg.grace_s is not None:
        grace, sources["grace_s"] = cfg.grace_s, "scenario"
    else:
        grace, sources["grace_s"] = window + debounce, "window_s + debounce_s"
    if cfg.tolerance_s is not None:
        tol, sources["tolerance_s"] = cfg.tolerance_s, "scenario"
    else:
        tol, sources["tolerance_s"] = grace, "grace_s"
    bg: str | None
    if cfg.background is not None:
        bg, sources["background"] = cfg.background, "scenario"
    else:
        bg = segments[0].label if segments else None
        sources["background"] = "first timeline segment"
    sources["straddle"] = "scenario" if "straddle" in cfg.model_fields_set else "default"
    return ResolvedAlignment(window, debounce, grace, cfg.straddle, tol, bg, sources)


class Timeline:
    """The ground-truth segments indexed for O(log n) lookups, with the results of a scan over them exactly.

    Segments come in input order and may overlap or be unsorted when built by hand (a validated scenario's are sorted
    and disjoint: scenario.model._timeline_problems); where several cover a time, the first in input order wins. The
    boundaries (every start and end) cut the time line into elementary intervals on each of which the set of
    covering segments is constant, so the label of each is decided once (a sweep with a heap of input indices) and a
    lookup is one bisect.
    """

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.segments = list(segments)
        self.bounds = sorted({s.start_s for s in self.segments} | {s.end_s for s in self.segments})
        self._labels = self._elementary_labels()
        self.changes = self._find_changes()
        # Sorted and disjoint in input order (every validated timeline): the segments overlapping a window are one
        # contiguous run found by bisection, in input order.
        self._disjoint = all(a.end_s <= b.start_s for a, b in pairwise(self.segments))
        self._starts = [s.start_s for s in self.segments]
        self._ends = [s.end_s for s in self.segments]
        self._grace_ends: dict[float, list[float]] = {}

    def _elementary_labels(self) -> list[str | None]:
        """The label on [bounds[i], bounds[i+1]) for each i: the first segment (input order) covering it."""
        by_start = sorted(range(len(self.segments)), key=lambda i: self.segments[i].start_s)
        active: list[int] = []  # heap of input indices; ended ones are dropped lazily
        labels: list[str | None] = []
        k = 0
        for lo in self.bounds[:-1]:
            while k < len(by_start) and self.segments[by_start[k]].start_s <= lo:
                heapq.heappush(active, by_start[k])
                k += 1
            while active and self.segments[active[0]].end_s <= lo:
                heapq.heappop(active)
            labels.append(self.segments[active[0]].label if active else None)
        return labels

    def label_at(self, t: float) -> str | None:
        i = bisect.bisect_right(self.bounds, t) - 1
        return self._labels[i] if 0 <= i < len(self._labels) else None

    def _find_changes(self) -> list[tuple[float, str | None, str | None]]:
        """(time, label before, label after) wherever the ground truth changes, unlabelled gaps included."""
        out: list[tuple[float, str | None, str | None]] = []
        for t in self.bounds:
            before = self.label_at(t - 1e-12) if t > 0 else None
            after = self.label_at(t)
            if before != after and t > 0:
                out.append((t, before, after))
        return out

    def grace_change(self, t: float, grace_s: float) -> tuple[float, str | None, str | None] | None:
        """The first change (in time order) with t_c <= t < t_c + grace_s, or None."""
        ends = self._grace_ends.get(grace_s)
        if ends is None:  # t_c + grace_s is non-decreasing in t_c (float addition is monotonic): bisectable
            ends = self._grace_ends[grace_s] = [c[0] + grace_s for c in self.changes]
        j = bisect.bisect_right(ends, t)
        if j < len(self.changes) and self.changes[j][0] <= t:
            return self.changes[j]
        return None

    def overlaps(self, a: float, b: float) -> dict[str, float]:
        """Label -> time it covers of [a, b], summed in input order (as a scan of every segment would)."""
        if self._disjoint:
            lo, hi = bisect.bisect_right(self._ends, a), bisect.bisect_left(self._starts, b)
            candidates: Sequence[Segment] = self.segments[lo:hi]
        else:
            candidates = self.segments
        cover: dict[str, float] = {}
        for s in candidates:
            o = min(b, s.end_s) - max(a, s.start_s)
            if o > 0:
                cover[s.label] = cover.get(s.label, 0.0) + o
        return cover


def _label_at(segments: Sequence[Segment], t: float) -> str | None:
    return Timeline(segments).label_at(t)


def _changes(segments: Sequence[Segment]) -> list[tuple[float, str | None, str | None]]:
    """(time, label before, label after) wherever the ground truth changes, unlabelled gaps included."""
    return Timeline(segments).changes


def _overlaps(segments: Sequence[Segment], a: float, b: float) -> dict[str, float]:
    return Timeline(segments).overlaps(a, b)


def score_decision(
    d: Decision, segments: Sequence[Segment], al: ResolvedAlignment, timeline: Timeline | None = None
) -> ScoredDecision:
    tl = timeline if timeline is not None else Timeline(segments)
    truth = tl.label_at(d.t_s)
    if truth is None:
        return ScoredDecision(d, None, "unlabelled")
    change = tl.grace_change(d.t_s, al.grace_s)
    if change is not None:
        _t_c, before, after = change
        if d.cls in (before, after):
            return ScoredDecision(d, truth, "grace")
        return ScoredDecision(d, truth, "scored")
    cover = tl.overlaps(max(0.0, d.t_s - al.window_s), d.t_s)
    if len(cover) > 1:
        majority = max(cover, key=lambda k: cover[k])
        if al.straddle == "ignore":
            return ScoredDecision(d, majority, "straddle")
        if al.straddle == "either" and d.cls in cover:
            return ScoredDecision(d, d.cls, "scored")
        return ScoredDecision(d, majority, "scored")
    return ScoredDecision(d, truth, "scored")


def find_events(segments: Sequence[Segment], background: str | None) -> list[tuple[str, float, float]]:
    events: list[tuple[str, float, float]] = []
    for s in segments:
        if s.label == background:
            continue
        if events and events[-1][0] == s.label and abs(events[-1][2] - s.start_s) < 1e-9:
            events[-1] = (s.label, events[-1][1], s.end_s)
        else:
            events.append((s.label, s.start_s, s.end_s))
    return events


def evaluate_decisions(
    decisions: Sequence[Decision],
    segments: Sequence[Segment],
    duration_s: float,
    cfg: Alignment | None = None,
    marks: dict[str, int] | None = None,
) -> DecisionResult:
    al = resolve_alignment(cfg or Alignment(), marks or {}, decisions, segments)
    timeline = Timeline(segments)  # indexed once for every decision
    scored = [score_decision(d, segments, al, timeline) for d in decisions]
    events = []
    for label, t0, t1 in find_events(segments, al.background):
        hit = next((d.t_s for d in decisions if d.cls == label and t0 <= d.t_s <= t1 + al.tolerance_s), None)
        events.append(Event(label, t0, t1, hit))
    false_alarms = []
    previous: str | None = None
    for d in decisions:
        if d.cls != al.background and d.cls != previous:
            covered = any(e.label == d.cls and e.start_s <= d.t_s <= e.end_s + al.tolerance_s for e in events)
            if not covered:
                false_alarms.append(d.t_s)
        previous = d.cls
    labels = sorted({s.label for s in segments})
    return DecisionResult(al, scored, events, false_alarms, duration_s, labels)
