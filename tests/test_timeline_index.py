"""verdicts.decisions.Timeline: the bisect index gives exactly what a scan of every segment gives (issue #18: a
10,000-segment timeline took minutes when every decision scanned every segment)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from tinyml_cosim.verdicts.decisions import (
    Decision,
    ResolvedAlignment,
    ScoredDecision,
    Segment,
    Timeline,
    score_decision,
)


def _scan_label_at(segments: Sequence[Segment], t: float) -> str | None:
    for s in segments:
        if s.start_s <= t < s.end_s:
            return s.label
    return None


def _scan_changes(segments: Sequence[Segment]) -> list[tuple[float, str | None, str | None]]:
    out: list[tuple[float, str | None, str | None]] = []
    for t in sorted({s.start_s for s in segments} | {s.end_s for s in segments}):
        before = _scan_label_at(segments, t - 1e-12) if t > 0 else None
        after = _scan_label_at(segments, t)
        if before != after and t > 0:
            out.append((t, before, after))
    return out


def _scan_overlaps(segments: Sequence[Segment], a: float, b: float) -> dict[str, float]:
    cover: dict[str, float] = {}
    for s in segments:
        o = min(b, s.end_s) - max(a, s.start_s)
        if o > 0:
            cover[s.label] = cover.get(s.label, 0.0) + o
    return cover


def _scan_score(
    d: Decision, segments: Sequence[Segment], changes: list[tuple[float, str | None, str | None]], al: ResolvedAlignment
) -> ScoredDecision:
    """score_decision as it was before the index: every lookup a scan."""
    truth = _scan_label_at(segments, d.t_s)
    if truth is None:
        return ScoredDecision(d, None, "unlabelled")
    for t_c, before, after in changes:
        if t_c <= d.t_s < t_c + al.grace_s:
            return ScoredDecision(d, truth, "grace" if d.cls in (before, after) else "scored")
    cover = _scan_overlaps(segments, max(0.0, d.t_s - al.window_s), d.t_s)
    if len(cover) > 1:
        majority = max(cover, key=lambda k: cover[k])
        if al.straddle == "ignore":
            return ScoredDecision(d, majority, "straddle")
        if al.straddle == "either" and d.cls in cover:
            return ScoredDecision(d, d.cls, "scored")
        return ScoredDecision(d, majority, "scored")
    return ScoredDecision(d, truth, "scored")


LABELS = ["idle", "walk", "run", "fall"]


def _validated_timeline(rng: random.Random, n: int) -> list[Segment]:
    """Sorted and disjoint, as a validated scenario's: abutting segments, with a gap now and then."""
    out, t = [], 0.0
    for _ in range(n):
        t += rng.choice([0.0, 0.0, 0.0, 0.25])
        end = t + rng.choice([0.5, 1.0, 1.5, 0.1 * rng.randint(1, 30)])
        out.append(Segment(t, end, rng.choice(LABELS)))
        t = end
    return out


def _hand_timeline(rng: random.Random, n: int) -> list[Segment]:
    """Unsorted and overlapping, as a hand-built list may be: the first covering segment in input order wins."""
    out = []
    for _ in range(n):
        start = round(rng.uniform(0, 50), 2)
        out.append(Segment(start, start + round(rng.uniform(0.01, 6), 2), rng.choice(LABELS)))
    return out


def _times(rng: random.Random, segments: Sequence[Segment], n: int) -> list[float]:
    """Random times plus every boundary and its float neighbourhood (where off-by-one errors live)."""
    top = max(s.end_s for s in segments)
    edges = [
        x
        for s in segments[:: max(1, len(segments) // 150)]
        for x in (s.start_s, s.end_s, s.start_s - 1e-12, s.end_s + 1e-9)
    ]
    return sorted([rng.uniform(-1, top + 1) for _ in range(n)] + edges + [0.0, top])


def _alignment(grace: float, window: float, straddle: str) -> ResolvedAlignment:
    return ResolvedAlignment(window, 0.0, grace, straddle, grace, "idle", {})  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["validated", "hand-built"])
def test_index_matches_a_scan_of_every_segment(kind: str) -> None:
    rng = random.Random(18)
    segments = _validated_timeline(rng, 3_000) if kind == "validated" else _hand_timeline(rng, 400)
    tl = Timeline(segments)
    times = _times(rng, segments, 400 if kind == "validated" else 1500)
    assert [tl.label_at(t) for t in times] == [_scan_label_at(segments, t) for t in times]
    changes = _scan_changes(segments)
    assert tl.changes == changes
    for a in times[::9]:
        for w in (0.05, 0.75, 3.0):
            assert tl.overlaps(a, a + w) == _scan_overlaps(segments, a, a + w)  # same keys, order and float sums
    for grace, window, straddle in [(0.0, 1.0, "majority"), (0.3, 1.0, "ignore"), (1.2, 2.0, "either")]:
        al = _alignment(grace, window, straddle)
        decisions = [Decision(i, t, rng.choice(LABELS), None) for i, t in enumerate(times[::3])]
        got = [score_decision(d, segments, al, tl) for d in decisions]
        assert got == [_scan_score(d, segments, changes, al) for d in decisions]
        statuses = {g.status for g in got}
        assert {"scored", "unlabelled"} <= statuses  # the cases compared include more than one branch
        assert "grace" in statuses or grace == 0.0


def test_first_segment_in_input_order_wins_where_segments_overlap() -> None:
    segments = [Segment(2.0, 6.0, "walk"), Segment(0.0, 10.0, "idle"), Segment(4.0, 5.0, "run")]
    tl = Timeline(segments)
    assert [tl.label_at(t) for t in (0.0, 2.0, 4.5, 6.0, 9.99, 10.0, -0.1)] == [
        "idle",
        "walk",
        "walk",
        "idle",
        "idle",
        None,
        None,
    ]
    assert tl.changes == [(2.0, "idle", "walk"), (6.0, "walk", "idle"), (10.0, "idle", None)]
