"""The timing section of a scenario report: inference instructions and time over the seeds, the silicon factor's
band, CPU load, and the deadline checked on the unsafe side."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tinyml_cosim.core.boards import Board
from tinyml_cosim.results.model import LayerCycles, Metric, TimingReport
from tinyml_cosim.run.record import SeedRun
from tinyml_cosim.verdicts.expect import Check, Comparison, check, parse_comparison
from tinyml_cosim.verdicts.seeds import metric_check, over_seeds
from tinyml_cosim.verdicts.spec import ExpectSpec
from tinyml_cosim.verdicts.timing import TimingResult, evaluate_timing


def timing_section(
    runs: Sequence[SeedRun], board: Board, spec: ExpectSpec, window_s: float | None
) -> tuple[TimingReport, list[Check], list[TimingResult]]:
    results = [evaluate_timing(r.record, board, spec.timing_cfg, window_s) for r in runs]
    first, f = results[0], results[0].factor
    estimated = all(res.estimated for res in results)
    instr, time_ms = _inference_metrics(results)
    cycles = _cycle_metrics(results) if estimated else None
    at = _observed_maximum_at(runs, results)
    load_metric, load_at = _cpu_load(runs, results)
    time_ms, band_ms, deadline_at, deadline_basis = _times(first, instr, cycles, time_ms)
    margin = None
    if spec.deadline_ms is not None and deadline_at is not None:
        margin = (spec.deadline_ms - deadline_at) / spec.deadline_ms * 100
    report = TimingReport(
        span=first.span,
        inferences=sum(res.n for res in results),
        time_basis=first.basis if estimated else f.basis,
        kernels=f.kernels,
        cycles_per_instruction=None if estimated else f.value,
        factor_band=None if estimated else f.band,
        factor_provenance=f.provenance,
        factor_summary=first.describe() if estimated else f.describe(),
        clock_hz=first.clock_hz,
        instructions=instr,
        cycles=cycles,
        cycle_band=(first.cycle_basis.low_ratio, first.cycle_basis.high_ratio) if first.cycle_basis else None,
        cycle_model=first.cycle_basis.model if first.cycle_basis and estimated else "",
        cycle_validation=first.cycle_basis.validation if first.cycle_basis and estimated else "",
        layers=_layer_table(runs[0]) if estimated else [],
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
    return report, _timing_checks(spec, report, first, instr, load_metric), results


def _times(
    first: TimingResult, instr: dict[str, Metric], cycles: dict[str, Metric] | None, time_ms: dict[str, Metric]
) -> tuple[dict[str, Metric], dict[str, tuple[float, float]] | None, float | None, str]:
    """Times, their band and the time the deadline is checked with (the observed maximum at the band's upper end,
    the unsafe side): from the cycle estimate when it ran, else the board's factor, else instruction time."""
    f = first.factor
    if cycles is not None:
        band = _band_ms(cycles, first.cycle_seconds)
        omax_cycles = cycles["observed_maximum"].value
        deadline_at = first.cycle_seconds(omax_cycles, "high") * 1000 if omax_cycles is not None else None
        b = first.cycle_basis
        ratio = f"x{b.high_ratio:.3f}" if b else "the band"
        basis = f"observed maximum of the estimated cycles at the band's upper end ({ratio}, the unsafe side)"
        return _cycle_time_metrics(first, cycles), band, deadline_at, basis
    band_ms = _band_ms(instr, first.seconds) if f.calibrated and f.band is not None else None
    omax_instr = instr["observed_maximum"].value
    deadline_at = first.seconds(omax_instr, "high") * 1000 if omax_instr is not None else None
    basis = (
        f"observed maximum at the factor band's upper end ({f.band[1]:g} cycles/instruction, the unsafe side)"
        if f.calibrated and f.band
        else "observed maximum in instruction time (no cycle model, no silicon factor)"
    )
    return time_ms, band_ms, deadline_at, basis


def _band_ms(metrics: dict[str, Metric], seconds: Callable[[float, str], float]) -> dict[str, tuple[float, float]]:
    """Each statistic at the band's low and high end, in milliseconds."""
    return {k: (seconds(m.value, "low") * 1000, seconds(m.value, "high") * 1000) for k, m in metrics.items()
            if m.value is not None}  # fmt: skip


def _cycle_metrics(results: list[TimingResult]) -> dict[str, Metric]:
    """min, median, p99 and observed maximum of the estimated cycles per inference over the seeds."""
    stats = [res.stats("cycles") for res in results]
    out: dict[str, Metric] = {}
    for key in ("min", "median", "p99", "observed_maximum"):
        vals = [s[key] for s in stats]
        if key == "min":
            known = [float(v) for v in vals if v is not None]
            out[key] = Metric(value=min(known) if known else None, unit="cycles", aggregate="min", per_seed=vals)
        else:
            out[key] = over_seeds([float(v) if v is not None else None for v in vals], "max", "cycles")
    return out


def _cycle_time_metrics(first: TimingResult, cycles: dict[str, Metric]) -> dict[str, Metric]:
    """The estimated cycles as milliseconds at the board clock."""
    return {
        k: Metric(
            value=first.cycle_seconds(m.value) * 1000 if m.value is not None else None,
            unit="ms",
            aggregate=m.aggregate,
            per_seed=[first.cycle_seconds(v) * 1000 if v is not None else None for v in m.per_seed],
        )
        for k, m in cycles.items()
    }


def _layer_table(run: SeedRun) -> list[LayerCycles]:
    """Per layer of the observed-maximum inference of the first seed: the `layer` spans nested in it (model_runner's
    profile mode), with where the cycles go. Empty when the firmware marks no layers."""
    spans = run.record.spans
    inferences = [s for s in spans if s.name == "inference" and s.cycles is not None]
    if not inferences:
        return []
    worst = max(inferences, key=lambda s: s.cycles or 0)
    layers = [s for s in spans if s.depth > worst.depth and worst.begin <= s.begin and s.end <= worst.end]
    return [
        LayerCycles(index=i, name=s.name, instructions=s.instructions, cycles=int(s.cycles or 0),
                    parts=dict(s.cycle_parts or {}))
        for i, s in enumerate(layers)
        if s.cycles is not None
    ]  # fmt: skip


def _inference_metrics(results: list[TimingResult]) -> tuple[dict[str, Metric], dict[str, Metric]]:
    """min, median, p99 and observed maximum over the seeds, in instructions and in milliseconds."""
    first = results[0]
    stats = [res.stats() for res in results]
    instr: dict[str, Metric] = {}
    time_ms: dict[str, Metric] = {}
    for key in ("min", "median", "p99", "observed_maximum"):
        vals = [s[key] for s in stats]
        if key == "min":
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
    return instr, time_ms


def _observed_maximum_at(runs: Sequence[SeedRun], results: list[TimingResult]) -> dict[str, Any] | None:
    """Seed, index, time and instructions of the longest inference over the seeds."""
    worst = max(
        ((r.seed, res) for r, res in zip(runs, results, strict=True) if res.counts),
        key=lambda p: max(p[1].counts),
        default=None,
    )
    if worst is None:
        return None
    i = worst[1].observed_max_index or 0
    return {"seed": worst[0], "index": i, "time_s": worst[1].ends_s[i], "instructions": worst[1].counts[i]}


def _cpu_load(runs: Sequence[SeedRun], results: list[TimingResult]) -> tuple[Metric | None, dict[str, Any] | None]:
    """The maximum CPU load over the seeds' windows, and where it was (None without a window period)."""
    loads = [res.max_load for res in results]
    load_metric = over_seeds([w.load if w else None for w in loads], "max") if results[0].period_s else None
    if load_metric is None or load_metric.value is None:
        return load_metric, None
    load_at = [w.load if w else -1.0 for w in loads]
    s_i = max(range(len(loads)), key=load_at.__getitem__)
    w = loads[s_i]
    if w is None:
        return load_metric, None
    return load_metric, {"seed": runs[s_i].seed, "index": w.index, "time_s": w.end_s,
                         "busy_instructions": w.busy_instructions}  # fmt: skip


def _timing_checks(
    spec: ExpectSpec, report: TimingReport, first: TimingResult, instr: dict[str, Metric], load: Metric | None
) -> list[Check]:
    checks = []
    no_span = f"no {first.span!r} spans in the run"
    if spec.deadline_ms is not None:
        checks.append(_deadline_check(spec.deadline_ms, report, first, instr["observed_maximum"].value, no_span))
    for name, comp in spec.timing.items():
        if name == "inference_instructions":
            checks.append(
                metric_check("timing.inference_instructions", "timing", comp, instr["observed_maximum"], no_span)
            )
        elif name == "inference_ms":
            checks.append(_inference_ms_check(comp, first, instr["observed_maximum"], no_span))
        elif name == "cpu_load":
            checks.append(metric_check("timing.cpu_load", "timing", comp, load or Metric(), "no window period"))
    return checks


def _deadline_check(
    deadline_ms: float, report: TimingReport, first: TimingResult, omax_instr: float | None, no_span: str
) -> Check:
    """The deadline against the observed maximum at the band's upper end; the message says where and why."""
    f, at, deadline_at = first.factor, report.observed_maximum_at, report.deadline_checked_ms
    omax_ms = report.time_ms["observed_maximum"].value
    comp = parse_comparison(f"<= {deadline_ms}", "deadline_ms")
    c = check("timing.deadline_ms", "timing", comp, deadline_at, "ms", why_missing=no_span)
    if deadline_at is None or at is None or omax_ms is None or omax_instr is None:
        return c
    where = f"seed {at['seed']} inference #{at['index']} at {at['time_s']:.4f} s"
    margin = report.deadline_margin_pct
    if report.cycles is not None and first.cycle_basis is not None:
        b, omax_cycles = first.cycle_basis, report.cycles["observed_maximum"].value or 0
        lo = first.cycle_seconds(omax_cycles, "low") * 1000
        c.message = (
            f"timing.deadline_ms: observed maximum {omax_cycles:,.0f} estimated cycles = {omax_ms:.4g} ms at "
            f"{first.clock_hz / 1e6:g} MHz (band {lo:.4g} .. {deadline_at:.4g} ms); checked at the band's upper end "
            f"(the unsafe side) {deadline_at:.4g} ms vs deadline {deadline_ms:g} ms: margin {margin:.1f} %; "
            f"instructions of the longest inference {at['instructions']:,} ({where}); model: {b.model}; "
            f"{b.validation or 'not validated against silicon for this board'}"
        )
    elif f.calibrated and f.band:
        lo = first.seconds(omax_instr, "low") * 1000
        c.message = (
            f"timing.deadline_ms: observed maximum {at['instructions']} instructions ({where}) = "
            f"{omax_ms:.4g} ms at {f.value:g} cycles/instruction ({f.kernels} kernels; band {f.band[0]:g} .. "
            f"{f.band[1]:g}: {lo:.4g} .. {deadline_at:.4g} ms); checked at the band's upper end (the unsafe "
            f"side) {deadline_at:.4g} ms vs deadline {deadline_ms:g} ms: margin {margin:.1f} %; "
            f"factor source: {f.provenance}"
        )
    else:
        c.message = (
            f"timing.deadline_ms: observed maximum {omax_ms:.4g} ms ({at['instructions']} instructions, "
            f"{report.time_basis}; {where}) vs deadline {deadline_ms:g} ms: margin {margin:.1f} % "
            f"({f.provenance})"
        )
    return c


def _inference_ms_check(comp: Comparison, res: TimingResult, omax: Metric, why: str) -> Check:
    """inference_ms against the observed maximum; with a silicon factor at the band's unsafe end for the comparison
    (upper end for < and <=, lower end for > and >=, the factor itself for == and !=)."""
    at = {"<": "high", "<=": "high", ">": "low", ">=": "low"}.get(comp.op, "factor")
    side = {"high": "the band's upper end", "low": "the band's lower end", "factor": "the estimate"}[at]
    if res.estimated:
        cmax = max(res.cycles or [0])
        c = check("timing.inference_ms", "timing", comp, res.cycle_seconds(cmax, at) * 1000, "ms", why_missing=why)
        c.message += f" (observed maximum {cmax:,} estimated cycles at {side}; {res.describe()})"
        return c
    value = res.seconds(omax.value, at) * 1000 if omax.value is not None else None
    c = check("timing.inference_ms", "timing", comp, value, "ms", why_missing=why)
    if value is not None and res.factor.calibrated:
        side = side.replace("the estimate", "the factor")
        c.message += f" (observed maximum {int(omax.value or 0)} instructions at {side}; {res.factor.describe()})"
    elif value is not None:
        c.message += f" (instruction time: {res.factor.provenance})"
    return c
