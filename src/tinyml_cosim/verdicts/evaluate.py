"""From the run records of one scenario (one per seed) to metrics with confidence intervals and checked expectations.

Seeds combine as follows (docs/verdicts.md, tinyml_cosim.verdicts.seeds): proportions (accuracy, precision, recall)
pool their counts over the seeds, with a Wilson interval; worst-case quantities (detection latency, observed maximum
inference time, CPU load, stack) take the maximum over the seeds; rates and counts (false alarms per hour, missed
events) take the mean, with a Student-t interval over the per-seed values. The expectation is checked against that
value. The timing section is in tinyml_cosim.verdicts.timing_section.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tinyml_cosim.core.boards import Board
from tinyml_cosim.elf.image import FirmwareImage
from tinyml_cosim.results.model import DecisionReport, EventReport, MemoryReport, Metric, SectionReport
from tinyml_cosim.run.record import RunRecord, SeedRun
from tinyml_cosim.verdicts.decisions import (
    DecisionResult,
    Segment,
    decisions_from_record,
    evaluate_decisions,
    marks_from_record,
)
from tinyml_cosim.verdicts.expect import Check, CheckStatus, check, fmt_value
from tinyml_cosim.verdicts.memory import MemoryResult, evaluate_memory, static_stack_checks, static_stack_report
from tinyml_cosim.verdicts.seeds import metric_check, over_seeds, proportion
from tinyml_cosim.verdicts.spec import ExpectSpec
from tinyml_cosim.verdicts.timing_section import timing_section

if TYPE_CHECKING:  # annotations only: the scenario package loads numpy and the sensor models
    from tinyml_cosim.scenario.model import Scenario


def segments_of(scenario: Scenario) -> list[Segment]:
    return [Segment(s.start_s, s.stop_s, s.label) for s in scenario.timeline]


# --- decisions -----------------------------------------------------------------------------------------------


def decision_section(
    runs: Sequence[SeedRun], segments: list[Segment], duration_s: float, spec: ExpectSpec
) -> tuple[DecisionReport, list[Check], list[DecisionResult]]:
    results = [
        evaluate_decisions(
            decisions_from_record(r.record), segments, duration_s, spec.alignment, marks_from_record(r.record)
        )
        for r in runs
    ]
    al = results[0].alignment
    labels = sorted(set(results[0].labels) | {s.decision.cls for res in results for s in res.scored})
    confusion, counts = _confusion(results, labels)
    metrics = _decision_metrics(results)
    per_class = {cls: _class_metrics(results, cls) for cls in labels}
    events = [
        EventReport(
            seed=r.seed,
            label=e.label,
            start_s=e.start_s,
            end_s=e.end_s,
            detected_s=e.detected_s,
            latency_ms=e.latency_s * 1000 if e.latency_s is not None else None,
        )
        for r, res in zip(runs, results, strict=True)
        for e in res.events
    ]
    alignment = {"window_s": al.window_s, "debounce_s": al.debounce_s, "grace_s": al.grace_s,
                 "straddle": al.straddle, "tolerance_s": al.tolerance_s, "background": al.background}  # fmt: skip
    report = DecisionReport(
        alignment=alignment,
        alignment_sources=al.sources,
        labels=labels,
        confusion=confusion,
        counts=counts,
        metrics=metrics,
        per_class=per_class,
        events=events,
        false_alarm_times={str(r.seed): res.false_alarms for r, res in zip(runs, results, strict=True)},
    )
    return report, _decision_checks(spec, metrics, per_class), results


def _confusion(results: list[DecisionResult], labels: list[str]) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """The confusion matrix and the alignment status counts, summed over the seeds."""
    confusion = {t: dict.fromkeys(labels, 0) for t in labels}
    counts = {"scored": 0, "grace": 0, "straddle": 0, "unlabelled": 0}
    for res in results:
        for t, row in res.confusion.items():
            for p, n in row.items():
                confusion.setdefault(t, dict.fromkeys(labels, 0))[p] = confusion[t].get(p, 0) + n
        for s in res.scored:
            counts[s.status] += 1
    return confusion, counts


def _decision_metrics(results: list[DecisionResult]) -> dict[str, Metric]:
    lat = [res.latency_max_s() for res in results]
    return {
        "accuracy": proportion([(res.n_correct, res.n_scored) for res in results]),
        "false_alarms_per_hour": over_seeds([res.false_alarms_per_hour for res in results], "mean", "/h"),
        "false_alarms": over_seeds([float(len(res.false_alarms)) for res in results], "mean"),
        "missed_events": over_seeds([float(res.missed()) for res in results], "mean"),
        "detection_latency_ms": over_seeds([v * 1000 if v is not None else None for v in lat], "max", "ms"),
    }


def _class_metrics(results: list[DecisionResult], cls: str) -> dict[str, Metric]:
    metrics = {
        "precision": proportion([res.precision_counts(cls) for res in results]),
        "recall": proportion([res.recall_counts(cls) for res in results]),
    }
    if any(res.events_of(cls) for res in results):
        cl = [res.latency_max_s(cls) for res in results]
        metrics["detection_latency_ms"] = over_seeds([v * 1000 if v else v for v in cl], "max", "ms")
        metrics["missed_events"] = over_seeds([float(res.missed(cls)) for res in results], "mean")
    return metrics


def _decision_checks(
    spec: ExpectSpec, metrics: dict[str, Metric], per_class: dict[str, dict[str, Metric]]
) -> list[Check]:
    checks = []
    for name, comp in spec.decision.items():
        why = "an event was missed or there are no events" if name == "detection_latency_ms" else "no decisions"
        checks.append(metric_check(f"decision.{name}", "decision", comp, metrics[name], why))
    for cls, comps in spec.per_class.items():
        for name, comp in comps.items():
            m = per_class.get(cls, {}).get(name)
            if m is None:
                why = f"class {cls!r} has no events in the timeline" if "event" in name or "latency" in name else ""
                checks.append(check(f"decision.per_class.{cls}.{name}", "decision", comp, None, why_missing=why))
            else:
                why = "no decisions of this class were scored" if name in ("precision", "recall") else "missed"
                checks.append(metric_check(f"decision.per_class.{cls}.{name}", "decision", comp, m, why))
    return checks


# --- memory --------------------------------------------------------------------------------------------------


def _pct_check(id: str, used: int, limit: int, res: MemoryResult, what: str, source: str | None = None) -> Check:
    pol = res.policy
    pct = 100.0 * used / limit
    if pct > pol.fail_above_pct:
        status = CheckStatus.FAIL
    elif pct > pol.warn_above_pct:
        status = CheckStatus.WARN
    else:
        status = CheckStatus.PASS
    word = {"pass": "fits", "warn": "fits, above the warning level", "fail": "does not fit the policy"}[status.value]
    return Check(
        id=id,
        category="memory",
        expected=f"<= {pol.fail_above_pct:g} % (warn above {pol.warn_above_pct:g} %)",
        actual=round(pct, 3),
        unit="%",
        status=status,
        message=f"{id}: {what} {used} of {limit} bytes = {pct:.1f} %, {word} (fail above {pol.fail_above_pct:g} %, "
        f"warn above {pol.warn_above_pct:g} %; limit from {source or res.limit_source})"
        + (f"; {res.harness_note(id.split('.')[1])}" if id in ("memory.flash", "memory.ram") else ""),
    )


def memory_section(
    image: FirmwareImage, board: Board, spec: ExpectSpec, stack_used: int | None
) -> tuple[MemoryReport, list[Check], MemoryResult]:
    res = evaluate_memory(image, board, spec.memory_policy, stack_used)
    report = memory_report(res)
    checks = [
        _pct_check("memory.flash", res.flash_used, res.flash_limit, res, "flash"),
        _pct_check("memory.ram", res.ram_used, res.ram_limit, res, "RAM (static + stack reservation)"),
    ]
    if res.stack_used is not None and res.stack_reserved:
        checks.append(
            _pct_check(
                "memory.stack",
                res.stack_used,
                res.stack_reserved,
                res,
                "stack high-water mark",
                "the linker script's .stack reservation",
            )
        )
    checks += static_stack_checks(res)
    values = {
        "flash_bytes": res.flash_used,
        "ram_bytes": res.ram_used,
        "static_ram_bytes": res.static_ram,
        "stack_bytes": res.stack_used,
    }
    for name, comp in spec.memory.items():
        why = "no EXIT event with stack_used (the firmware did not exit, or its start-up paints no stack)"
        v = values[name]
        checks.append(
            check(f"memory.{name}", "memory", comp, float(v) if v is not None else None, "bytes", None, None, why)
        )
    return report, checks, res


def memory_report(res: MemoryResult) -> MemoryReport:
    return MemoryReport(
        elf=res.elf,
        map_file=res.map_file,
        sections=[SectionReport(**vars(s)) for s in res.sections],
        components_flash=res.components_flash,
        components_ram=res.components_ram,
        flash_used=res.flash_used,
        flash_limit=res.flash_limit,
        flash_pct=round(100.0 * res.flash_used / res.flash_limit, 3),
        ram_used=res.ram_used,
        ram_limit=res.ram_limit,
        ram_pct=round(100.0 * res.ram_used / res.ram_limit, 3),
        static_ram=res.static_ram,
        stack_reserved=res.stack_reserved,
        stack_used=res.stack_used,
        limit_source=res.limit_source,
        fail_above_pct=res.policy.fail_above_pct,
        warn_above_pct=res.policy.warn_above_pct,
        notes=res.notes,
        stack_static=static_stack_report(res.stack_static),
        harness_flash=res.harness_flash,
        harness_ram=res.harness_ram,
        product_flash=res.product_flash,
        product_static_ram=res.product_static_ram,
    )


def run_check(r: SeedRun) -> Check:
    ok = r.record.succeeded
    return Check(
        id=f"run.seed{r.seed}",
        category="run",
        expected="exited 0 or ran its whole budget",
        actual=1.0 if ok else 0.0,
        status=CheckStatus.PASS if ok else CheckStatus.FAIL,
        message=f"run.seed{r.seed}: {r.record.status.value}: {r.record.diagnosis}",
    )


def stack_used_of(record: RunRecord) -> int | None:
    for e in record.events:
        if e.kind == "EXIT" and "stack_used" in e.fields:
            return int(e.fields["stack_used"])
    return getattr(record, "stack_used", None)  # painted by the engine (firmware without cosim.h)


__all__ = [
    "SeedRun",
    "decision_section",
    "fmt_value",
    "memory_section",
    "proportion",
    "run_check",
    "timing_section",
]
