"""Baselines: compare a scenario report with an earlier one (`--baseline OLD/report.json`). Instruction counts per
inference (median and observed maximum), the cycle model's estimated cycles per inference (where either report has
them) and memory (flash, RAM, stack high-water mark) that grew by more than the threshold (default 2 %) fail; an
improvement or growth within the threshold passes. Every delta is in the report."""

from __future__ import annotations

from pathlib import Path

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.results.model import BaselineDelta, BaselineReport, Metric, Report
from tinyml_cosim.verdicts.expect import Check, CheckStatus, fmt_value

DEFAULT_THRESHOLD_PCT = 2.0


def load_baseline(path: Path) -> tuple[Path, Report]:
    """`path` is a report.json or a report directory holding one."""
    path = Path(path)
    file = path / "report.json" if path.is_dir() else path
    if not file.is_file():
        raise BadInput(f"{path}: --baseline needs an earlier report.json (or its report directory); not found")
    try:
        return file, Report.model_validate_json(file.read_text())
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise BadInput(f"{file}: not a scenario report (report_version 1): {first}") from None


def quantities(r: Report) -> list[tuple[str, str, float | None]]:
    """(id, unit, value) of every quantity a baseline compares."""
    t = r.timing
    instr = t.instructions if t is not None else {}

    cycles = (t.cycles if t is not None else None) or {}

    def iv(key: str, of: dict[str, Metric] = instr) -> float | None:
        m = of.get(key)
        return m.value if m is not None else None

    m = r.memory
    return [
        ("baseline.instructions.median", "instructions", iv("median")),
        ("baseline.instructions.observed_maximum", "instructions", iv("observed_maximum")),
        ("baseline.cycles.median", "cycles", iv("median", cycles)),
        ("baseline.cycles.observed_maximum", "cycles", iv("observed_maximum", cycles)),
        ("baseline.memory.flash", "bytes", float(m.flash_used)),
        ("baseline.memory.ram", "bytes", float(m.ram_used)),
        ("baseline.memory.stack", "bytes", float(m.stack_used) if m.stack_used is not None else None),
    ]


def _pairs(new: Report, old: Report) -> list[tuple[str, str, float | None, float | None]]:
    """(id, unit, now, baseline) of every quantity to compare; estimated cycles only where either run had them."""
    old_q = {i: v for i, _, v in quantities(old)}
    return [
        (id, unit, value, old_q.get(id))
        for id, unit, value in quantities(new)
        if not (unit == "cycles" and value is None and old_q.get(id) is None)
    ]


def compare(new: Report, old: Report, path: str, threshold_pct: float = DEFAULT_THRESHOLD_PCT):
    """(BaselineReport, checks): one check per quantity, `actual X, expected <= limit (baseline B + T %)`."""
    if threshold_pct < 0:
        raise BadInput(f"--baseline-threshold must not be negative, got {threshold_pct}")
    notes = []
    if old.scenario.board != new.scenario.board:
        notes.append(f"the baseline ran on board {old.scenario.board}, this run on {new.scenario.board}")
    if old.scenario.name != new.scenario.name:
        notes.append(f"the baseline is of scenario {old.scenario.name!r}, this run of {new.scenario.name!r}")
    if old.timing and new.timing and old.timing.span != new.timing.span:
        notes.append(f"inference span {old.timing.span!r} in the baseline, {new.timing.span!r} now")
    deltas: list[BaselineDelta] = []
    checks: list[Check] = []
    for id, unit, value, base in _pairs(new, old):
        limit = base * (1 + threshold_pct / 100) if base is not None else None
        if base is None or value is None:
            status = CheckStatus.WARN
            which = "the baseline" if base is None else "this run"
            msg = (
                f"{id}: not compared: {which} has no value "
                f"(baseline {fmt_value(base, unit)}, now {fmt_value(value, unit)})"
            )
            delta = pct = None
        else:
            delta = value - base
            pct = delta / base * 100 if base else (0.0 if delta == 0 else float("inf"))
            status = CheckStatus.FAIL if value > (limit or 0) and delta > 0 else CheckStatus.PASS
            word = "grew" if delta > 0 else ("shrank" if delta < 0 else "unchanged")
            msg = (
                f"{id}: actual {fmt_value(value, unit)}, expected <= {fmt_value(limit, unit)} (baseline "
                f"{fmt_value(base, unit)} + {threshold_pct:g} %): {word} {delta:+g} {unit} ({pct:+.2f} %)"
            )
        deltas.append(
            BaselineDelta(
                id=id, unit=unit, baseline=base, actual=value, delta=delta,
                delta_pct=round(pct, 4) if pct is not None else None, status=status.value,
            )
        )  # fmt: skip
        checks.append(
            Check(
                id=id,
                category="baseline",
                expected=f"<= {fmt_value(limit, unit)} (baseline {fmt_value(base, unit)} + {threshold_pct:g} %)"
                if limit is not None
                else "no baseline value",
                actual=value,
                unit=unit,
                status=status,
                message=msg,
            )
        )
    report = BaselineReport(
        path=path,
        threshold_pct=threshold_pct,
        baseline_tool_version=old.tool_version,
        baseline_firmware_sha256=sorted(
            {str(r.provenance.get("elf_sha256")) for r in old.runs if r.provenance and r.provenance.get("elf_sha256")}
        ),
        deltas=deltas,
        notes=notes,
    )
    return report, checks
