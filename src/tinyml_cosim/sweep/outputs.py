"""What a sweep leaves in its output directory from its stored points: the results table, `sweep.json` (the
summary and each expectation's outcome) and `report.html`; and the exit code the expectations give."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyml_cosim.core.errors import EXIT_ENGINE_ERROR, EXIT_FAILED, EXIT_OK, BadInput
from tinyml_cosim.core.files import write_text_atomically
from tinyml_cosim.sweep.axes import short_name
from tinyml_cosim.sweep.expect import ExpectParseError, ExpectResult, evaluate
from tinyml_cosim.sweep.plan import SweepPlan
from tinyml_cosim.sweep.results import row_of, write_table
from tinyml_cosim.sweep.store import PointStore


@dataclass
class SweepOutputs:
    rows: list[dict[str, Any]]
    expectations: list[ExpectResult]
    files: list[Path]
    html: Path

    @property
    def errors(self) -> int:
        return sum(r.get("status") == "error" for r in self.rows)

    @property
    def missing(self) -> int:
        return sum(r.get("status") == "missing" for r in self.rows)

    @property
    def exit_code(self) -> int:
        """1 when an expectation fails; else 3 when a point has no result (error, or not run); else 0."""
        if any(not e.passed for e in self.expectations):
            return EXIT_FAILED
        if self.errors or self.missing:
            return EXIT_ENGINE_ERROR
        return EXIT_OK

    def summary_lines(self) -> list[str]:
        done = sum(r.get("status") == "done" for r in self.rows)
        passing = sum(r.get("verdict") == "pass" for r in self.rows if r.get("status") == "done")
        lines = [f"points: {len(self.rows)}: {done} done ({passing} pass, {done - passing} fail)"
                 f", {self.errors} error(s), {self.missing} not run"]  # fmt: skip
        for e in self.expectations:
            lines += e.lines()
        lines.append(f"results: {', '.join(str(f) for f in self.files)}")
        lines.append(f"report: {self.html}")
        return lines


def collect_rows(plan: SweepPlan, out: Path) -> list[dict[str, Any]]:
    store = PointStore(out)
    return [row_of(p, store.load(p.hash)) for p in plan.points]


def write_outputs(plan: SweepPlan, out: Path, run_info: dict[str, Any] | None = None) -> SweepOutputs:
    from tinyml_cosim.sweep import report  # lazy: matplotlib and jinja2 for the page only

    out = Path(out)
    rows = collect_rows(plan, out)

    def label(row: dict[str, Any]) -> str:
        values = ", ".join(f"{short_name(a, plan.axis_names)}={row.get(a)}" for a in plan.axis_names)
        return f"point {row.get('index')} {row.get('point')} ({values})"

    results = []
    for i, exp in enumerate(plan.expectations):
        try:
            results.append(evaluate(exp, rows, label))
        except ExpectParseError as exc:  # a column name that the results do not have
            raise BadInput(f"{plan.path}: expect[{i}]: {exc}") from None
    files = write_table(out, rows)
    page = report.SweepPage(
        name=plan.name,
        description=plan.sweep.description,
        total=len(rows),
        done=sum(r.get("status") == "done" for r in rows),
        errors=sum(r.get("status") == "error" for r in rows),
        expectations=results,
        curves=report.curves(rows, plan.axis_names, list(plan.sweep.axes)),
        fit=report.fit_table(rows, Path(str(plan.points[0].scenario.get("model") or "default model")).name),
        failing=report.failing_points(rows, plan.axis_names),
        run_info=dict(run_info or {}),
    )
    html = write_text_atomically(out / "report.html", report.render(page))
    summary = {
        "sweep": plan.name,
        "file": str(plan.path),
        "points": len(rows),
        "done": page.done,
        "errors": page.errors,
        "run": run_info or {},
        "expectations": [
            {"expect": e.expectation.text, "passed": e.passed, "covered": e.covered, "failures": e.failures}
            for e in results
        ],
    }
    files.append(write_text_atomically(out / "sweep.json", json.dumps(summary, indent=2) + "\n"))
    return SweepOutputs(rows, results, files, html)
