"""From the run records of one scenario (one per seed) to metrics with confidence intervals and checked expectations.

Seeds combine as follows (docs/verdicts.md): proportions (accuracy, precision, recall) pool their counts over the
seeds, with a Wilson interval; worst-case quantities (detection latency, observed maximum inference time, CPU load,
stack) take the maximum over the seeds; rates and counts (false alarms per hour, missed events) take the mean, with
a Student-t interval over the per-seed values. The expectation is checked against that value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tinyml_cosim.core.boards import Board
from tinyml_cosim.elf.image import FirmwareImage
from tinyml_cosim.results.model import DecisionReport, EventReport, MemoryReport, Metric, SectionReport, TimingReport
from tinyml_cosim.run.record import RunRecord
from tinyml_cosim.verdicts.decisions import (
    DecisionResult,
    Segment,
    decisions_from_record,
    evaluate_decisions,
    marks_from_record,
)
from tinyml_cosim.verdicts.expect import Check, CheckStatus, Comparison, check, fmt_value, parse_comparison
from tinyml_cosim.verdicts.memory import MemoryResult, evaluate_memory, static_stack_checks, static_stack_report
from tinyml_cosim.verdicts.spec import ExpectSpec
from tinyml_cosim.verdicts.stats import mean_ci, wilson
from tinyml_cosim.verdicts.timing import TimingResult, evaluate_timing


@dataclass
class SeedRun:
    seed: int
    record: RunRecord


def proportion(pairs: Sequence[tuple[int, int]]) -> Metric:
    k = sum(p[0] for p in pairs)
    n = sum(p[1] for p in pairs)
    per = [p[0] / p[1] if p[1] else None for p in pairs]
    ci = wilson(k, n)
    return Metric(
        value=k / n if n else None,
        aggregate="pooled counts",
        ci95=ci,
        ci_method="wilson" if ci else None,
        per_seed=per,
        counts=(k, n),
    )


def over_seeds(values: Sequence[float | None], how: str, unit: str = "") -> Metric:
    """`how`: mean or max; a seed without a value makes a max unmeasurable (e.g. a missed event's latency)."""
    known = [v for v in values if v is not None]
    ci = mean_ci(known) if len(known) >= 2 else None
    if how == "max":
        value = max(known) if known and len(known) == len(values) else None
    else:
        value = sum(known) / len(known) if known else None
    return Metric(
        value=value,
        unit=unit,
        aggregate=how,
        ci95=(ci[1], ci[2]) if ci else None,
        ci_method="t" if ci else None,
        per_seed=list(values),
    )


def segments_of(scenario) -> list[Segment]:  # type: ignore[no-untyped-def]
    return [Segment(s.start_s, s.stop_s, s.label) for s in scenario.timeline]


def metric_check(id: str, category: str, comp: Comparison, m: Metric, why: str = "") -> Check:
    return check(id, category, comp, m.value, m.unit, m.ci95, m.ci_method, why)


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
    confusion = {t: dict.fromkeys(labels, 0) for t in labels}
    counts = {"scored": 0, "grace": 0, "straddle": 0, "unlabelled": 0}
    for res in results:
        for t, row in res.confusion.items():
            for p, n in row.items():
                confusion.setdefault(t, dict.fromkeys(labels, 0))[p] = confusion[t].get(p, 0) + n
        for s in res.scored:
            counts[s.status] += 1
    lat = [res.latency_max_s() for res in results]
    metrics = {
        "accuracy": proportion([(res.n_correct, res.n_scored) for res in results]),
        "false_alarms_per_hour": over_seeds([res.false_alarms_per_hour for res in results], "mean", "/h"),
        "false_alarms": over_seeds([float(len(res.false_alarms)) for res in results], "mean"),
        "missed_events": over_seeds([float(res.missed()) for res in results], "mean"),
        "detection_latency_ms": over_seeds([v * 1000 if v is not None else None for v in lat], "max", "ms"),
    }
    per_class: dict[str, dict[str, Metric]] = {}
    for cls in labels:
        per_class[cls] = {
            "precision": proportion([res.precision_counts(cls) for res in results]),
            "recall": proportion([res.recall_counts(cls) for res in results]),
        }
        if any(res.events_of(cls) for res in results):
            cl = [res.latency_max_s(cls) for res in results]
            per_class[cls]["detection_latency_ms"] = over_seeds([v * 1000 if v else v for v in cl], "max", "ms")
            per_class[cls]["missed_events"] = over_seeds([float(res.missed(cls)) for res in results], "mean")
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
    report = DecisionReport(
        alignment={
            "window_s": al.window_s,
            "debounce_s": al.debounce_s,
            "grace_s": al.grace_s,
            "straddle": al.straddle,
            "tolerance_s": al.tolerance_s,
            "background": al.background,
        },
        alignment_sources=al.sources,
        labels=labels,
        confusion=confusion,
        counts=counts,
        metrics=metrics,
        per_class=per_class,
        events=events,
        false_alarm_times={str(r.seed): res.false_alarms for r, res in zip(runs, results, strict=True)},
    )
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
    return report, checks, results


# --- timing --------------------------------------------------------------------------------------------------


def timing_section(
    runs: Sequence[SeedRun], board: Board, spec: ExpectSpec, window_s: float | None
) -> tuple[TimingReport, list[Check], list[TimingResult]]:
    results = [evaluate_timing(r.record, board, spec.timing_cfg, window_s) for r in runs]
    first = results[0]
    stats = [res.stats() for res in results]
    instr: dict[str, Metric] = {}
    time_ms: dict[str, Metric] = {}
    for key in ("min", "median", "p99", "observed_maximum"):
        how = "min" if key == "min" else "max"
        vals = [s[key] for s in stats]
        if how == "min":
            known = [float(v) for v in vals if v is not None]
            m = Metric(value=min(known) if known else None, unit="instructions", aggregate="min", per_seed=vals)
        else:
            m = over_seeds([float(v) if v is not None else None for v in vals], "max", "instructions")
        instr[key] = m
        time_ms[key] = Metric(
            value=first.seconds(m.value) * 1000 if m.value is not None else None,
            unit="ms",
            aggregate=m.aggregate,
            per_seed=[first.seconds(v) * 1000 if v is not None else None for v in m.per_seed],
        )
    at = None
    worst = max(
        ((r.seed, res) for r, res in zip(runs, results, strict=True) if res.counts),
        key=lambda p: max(p[1].counts),
        default=None,
    )
    if worst is not None:
        i = worst[1].observed_max_index or 0
        at = {"seed": worst[0], "index": i, "time_s": worst[1].ends_s[i], "instructions": worst[1].counts[i]}
    loads = [res.max_load for res in results]
    load_metric = over_seeds([w.load if w else None for w in loads], "max") if first.period_s else None
    load_at = None
    if load_metric is not None and load_metric.value is not None:
        s_i = max(range(len(loads)), key=lambda i: loads[i].load if loads[i] else -1.0)
        w = loads[s_i]
        if w is not None:
            load_at = {
                "seed": runs[s_i].seed,
                "index": w.index,
                "time_s": w.end_s,
                "busy_instructions": w.busy_instructions,
            }
    omax_ms = time_ms["observed_maximum"].value
    f = first.factor
    band_ms: dict[str, tuple[float, float]] | None = None
    if f.calibrated and f.band is not None:
        band_ms = {
            k: (first.seconds(m.value, "low") * 1000, first.seconds(m.value, "high") * 1000)
            for k, m in instr.items()
            if m.value is not None
        }
    # The deadline is checked on the unsafe side: the observed maximum at the band's upper end.
    omax_instr = instr["observed_maximum"].value
    deadline_at = first.seconds(omax_instr, "high") * 1000 if omax_instr is not None else None
    deadline_basis = (
        f"observed maximum at the factor band's upper end ({f.band[1]:g} cycles/instruction, the unsafe side)"
        if f.calibrated and f.band
        else "observed maximum in instruction time (no silicon factor)"
    )
    margin = None
    if spec.deadline_ms is not None and deadline_at is not None:
        margin = (spec.deadline_ms - deadline_at) / spec.deadline_ms * 100
    report = TimingReport(
        span=first.span,
        inferences=sum(res.n for res in results),
        time_basis=f.basis,  # type: ignore[arg-type]
        kernels=f.kernels,
        cycles_per_instruction=f.value,
        factor_band=f.band,
        factor_provenance=f.provenance,
        factor_summary=f.describe(),
        clock_hz=first.clock_hz,
        instructions=instr,
        time_ms=time_ms,
        time_ms_band=band_ms,
        observed_maximum_at=at,
        deadline_ms=spec.deadline_ms,
        deadline_checked_ms=deadline_at if spec.deadline_ms is not None else None,
        deadline_basis=deadline_basis if spec.deadline_ms is not None else "",
        deadline_margin_pct=margin,
        window_period_s=first.period_s,
        window_period_source=first.period_source,
        cpu_load_max=load_metric,
        cpu_load_max_at=load_at,
    )
    checks = []
    no_span = f"no {first.span!r} spans in the run"
    if spec.deadline_ms is not None:
        c = check(
            "timing.deadline_ms",
            "timing",
            parse_comparison(f"<= {spec.deadline_ms}", "deadline_ms"),
            deadline_at,
            "ms",
            why_missing=no_span,
        )
        if deadline_at is not None and at is not None and omax_ms is not None:
            where = f"seed {at['seed']} inference #{at['index']} at {at['time_s']:.4f} s"
            if f.calibrated and f.band:
                lo = first.seconds(omax_instr, "low") * 1000
                c.message = (
                    f"timing.deadline_ms: observed maximum {at['instructions']} instructions ({where}) = "
                    f"{omax_ms:.4g} ms at {f.value:g} cycles/instruction ({f.kernels} kernels; band {f.band[0]:g} .. "
                    f"{f.band[1]:g}: {lo:.4g} .. {deadline_at:.4g} ms); checked at the band's upper end (the unsafe "
                    f"side) {deadline_at:.4g} ms vs deadline {spec.deadline_ms:g} ms: margin {margin:.1f} %; "
                    f"factor source: {f.provenance}"
                )
            else:
                c.message = (
                    f"timing.deadline_ms: observed maximum {omax_ms:.4g} ms ({at['instructions']} instructions, "
                    f"{report.time_basis}; {where}) vs deadline {spec.deadline_ms:g} ms: margin {margin:.1f} % "
                    f"({f.provenance})"
                )
        checks.append(c)
    for name, comp in spec.timing.items():
        if name == "inference_instructions":
            checks.append(
                metric_check("timing.inference_instructions", "timing", comp, instr["observed_maximum"], no_span)
            )
        elif name == "inference_ms":
            checks.append(_inference_ms_check(comp, first, instr["observed_maximum"], no_span))
        elif name == "cpu_load":
            m = load_metric or Metric()
            checks.append(metric_check("timing.cpu_load", "timing", comp, m, "no window period"))
    return report, checks, results


def _inference_ms_check(comp: Comparison, res: TimingResult, omax: Metric, why: str) -> Check:
    """inference_ms against the observed maximum; with a silicon factor at the band's unsafe end for the comparison
    (upper end for < and <=, lower end for > and >=, the factor itself for == and !=)."""
    at = {"<": "high", "<=": "high", ">": "low", ">=": "low"}.get(comp.op, "factor")
    value = res.seconds(omax.value, at) * 1000 if omax.value is not None else None
    c = check("timing.inference_ms", "timing", comp, value, "ms", why_missing=why)
    if value is not None and res.factor.calibrated:
        side = {"high": "the band's upper end", "low": "the band's lower end", "factor": "the factor"}[at]
        c.message += f" (observed maximum {int(omax.value or 0)} instructions at {side}; {res.factor.describe()})"
    elif value is not None:
        c.message += f" (instruction time: {res.factor.provenance})"
    return c


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
    return None


__all__ = ["SeedRun", "decision_section", "fmt_value", "memory_section", "run_check", "timing_section"]
