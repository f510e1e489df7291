"""From the runs of a scenario to its report: the verdict sections over the seeds, the run summaries, the
baseline comparison and the verdict; then the report directory (report.json, junit.xml, report.html, each seed's
run record and console, the failed run's artefacts) and the summary lines `cosim run` prints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyml_cosim import __version__
from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.errors import EXIT_ENGINE_ERROR, EXIT_FAILED, EXIT_OK, BadInput
from tinyml_cosim.core.provenance import file_sha256
from tinyml_cosim.elf.image import FirmwareImage
from tinyml_cosim.report.junit import junit_xml
from tinyml_cosim.report.writer import ReportDir, write_atomically
from tinyml_cosim.results.artefacts import keep_failure_artefacts
from tinyml_cosim.results.model import DecisionReport, Report, RunSummary, ScenarioInfo, TimingReport, failed_run_lines
from tinyml_cosim.run.record import SeedRun, Status
from tinyml_cosim.verdicts.baseline import compare
from tinyml_cosim.verdicts.decisions import decisions_from_record

if TYPE_CHECKING:  # annotations only: these load numpy, jinja2 and capstone (see assemble_report)
    from tinyml_cosim.report.html import PlotData
    from tinyml_cosim.scenario.model import Scenario
    from tinyml_cosim.verdicts.expect import Check
    from tinyml_cosim.verdicts.timing import TimingResult


@dataclass
class ScenarioRuns:
    """What a report is assembled from: the scenario, its firmware on its board, its expectations and its runs."""

    scn: Any  # tinyml_cosim.scenario.model.Scenario
    path: Path
    board: Board
    elf: Path
    image: FirmwareImage
    spec: Any  # tinyml_cosim.verdicts.spec.ExpectSpec
    runs: list[SeedRun]


def assemble_report(sr: ScenarioRuns, notes: list[str], baseline: tuple[Path, Report] | None, threshold_pct: float):
    """(report, per-seed timing results): every section, the checks and the verdict."""
    from tinyml_cosim.verdicts import evaluate as ev  # lazy: numpy and capstone, for scenario runs only

    runs = sr.runs
    engine_failed = [r for r in runs if r.record.status in (Status.CRASH, Status.ERROR)]
    checks = [ev.run_check(r) for r in runs]
    decisions = timing = None
    tres: list = [None] * len(runs)
    if engine_failed:
        # No verdict on what the firmware did: the engine failed under it. The report still says what happened.
        for r in engine_failed:
            notes.append(f"seed {r.seed}: {r.record.status.value}: {r.record.diagnosis}")
        notes.append("engine error: decisions and inference time are not evaluated; memory is from the ELF")
    else:
        decisions, timing, tres = _behaviour_sections(sr, checks)
    stacks = [ev.stack_used_of(r.record) for r in runs]
    known = [s for s in stacks if s is not None]
    memory, mchecks, _ = ev.memory_section(sr.image, sr.board, sr.spec, max(known) if known else None)
    checks += mchecks
    if not known:
        notes.append("no stack high-water mark: no run ended with an EXIT event carrying stack_used")
    if timing is not None and not timing.inferences:
        notes.append(f"no {timing.span!r} spans: inference time is not measured")
    report = Report(
        tool_version=f"tinyml-cosim {__version__}",
        verdict="pass",
        exit_code=EXIT_OK,
        scenario=_scenario_info(sr),
        seeds=[r.seed for r in runs],
        runs=[run_summary(r, res, st) for r, res, st in zip(runs, tres, stacks, strict=True)],
        checks=checks,
        decisions=decisions,
        timing=timing,
        memory=memory,
        notes=notes,
    )
    _compare_baseline(report, baseline, threshold_pct, engine_failed=bool(engine_failed))
    if engine_failed:
        report.verdict, report.exit_code = "error", EXIT_ENGINE_ERROR
    elif any(c.failed for c in report.checks):
        report.verdict, report.exit_code = "fail", EXIT_FAILED
    return report, tres


def _behaviour_sections(
    sr: ScenarioRuns, checks: list[Check]
) -> tuple[DecisionReport | None, TimingReport, list[TimingResult]]:
    """The decision section (with a timeline) and the timing section; their checks are appended to `checks`."""
    from tinyml_cosim.verdicts import evaluate as ev  # lazy: see assemble_report

    decisions, window_s = None, None
    segments = ev.segments_of(sr.scn)
    if segments:
        decisions, dchecks, dres = ev.decision_section(sr.runs, segments, sr.scn.duration_s, sr.spec)
        window_s = dres[0].alignment.window_s or None
        checks += dchecks
    elif sr.spec.has_decision:
        raise BadInput(f"{sr.path}: expect.decision needs a timeline (the ground truth) in the scenario")
    timing, tchecks, tres = ev.timing_section(sr.runs, sr.board, sr.spec, window_s)
    checks += tchecks
    return decisions, timing, tres


def _scenario_info(sr: ScenarioRuns) -> ScenarioInfo:
    return ScenarioInfo(
        # A lone surrogate (a YAML "\\ud800" escape) cannot be written as UTF-8: it is kept as a visible escape.
        name=(sr.scn.name or sr.path.stem).encode("utf-8", "backslashreplace").decode("utf-8"),
        path=str(sr.path),
        sha256=file_sha256(sr.path) or "",
        board=sr.board.id,
        engine=sr.runs[0].record.engine,
        app=sr.scn.app,
        firmware=str(sr.elf),
        duration_s=sr.scn.duration_s,
    )


def _compare_baseline(
    report: Report, baseline: tuple[Path, Report] | None, threshold_pct: float, engine_failed: bool
) -> None:
    if baseline is None:
        return
    if engine_failed:
        report.notes.append(f"baseline {baseline[0]} not compared: the engine failed")
        return
    report.baseline, bchecks = compare(report, baseline[1], str(baseline[0]), threshold_pct)
    report.checks += bchecks


def run_summary(r: SeedRun, res: Any, stack_used: int | None) -> RunSummary:
    """The run's line in report.json: the record's outcome and fault block, and what the verdicts counted."""
    rec = r.record
    return RunSummary(
        **rec.summary_fields(),
        **rec.model_dump(include={"exit_code", "diagnosis", "instructions", "instructions_accuracy",
                                  "simulated_seconds", "wall_seconds", "fingerprint"}),
        seed=r.seed,
        status=rec.status.value,
        decisions=sum(e.kind == "DECISION" for e in rec.events),
        inferences=res.n if res is not None else 0,
        stack_used=stack_used,
        console_tail=rec.console_tail[-10:],
        provenance=rec.provenance.model_dump(mode="json") if rec.provenance else None,
        run_record=f"run-seed{r.seed}.json",
        console_log=f"console-seed{r.seed}.log",
    )  # fmt: skip


def plot_data(scn: Scenario, run: SeedRun, counts: list[int]) -> PlotData:
    """What report.html plots for the first seed: its sensor signal, the timeline, decisions, inference counts."""
    from tinyml_cosim.report.html import PlotData  # lazy: jinja2 and numpy, for the HTML report only

    p = PlotData(seed=run.seed, inference_instructions=counts, console=run.console)
    p.segments = [(s.start_s, s.stop_s, s.label) for s in scn.timeline]
    p.decisions = [(d.t_s, d.cls) for d in decisions_from_record(run.record)]
    try:
        spec = scn.sensors[0]
        stream = scn.generate(run.seed)[spec.id]
        p.signal_t = stream.timestamps_ns / 1e9
        p.signal = stream.physical
        p.channels = list(stream.channels)
        p.unit = stream.unit
        p.sensor = spec.id
    except Exception as exc:  # a plot is never worth failing the verdict for
        p.console = [*run.console, f"(signal not plotted: {exc})"]
    return p


def write_report(
    out: Path | ReportDir,
    report: Report,
    runs: list[SeedRun],
    plot: PlotData,
    extra: dict[str, bytes] | None = None,
) -> Path:
    """The report directory, written atomically (a ReportDir already taken, or a path: see core.report_dir for what an
    existing directory may be). `extra`: more files for it (the worst window's input), name -> bytes."""
    from tinyml_cosim.report.html import render_html  # lazy: jinja2 (see plot_data)

    failed = next((r for r in runs if not r.record.succeeded), None)  # the first failed run's artefacts

    def fill(tmp: Path) -> None:
        for name, data in (extra or {}).items():
            (tmp / name).write_bytes(data)
        (tmp / "report.json").write_text(report.model_dump_json(indent=2) + "\n")
        (tmp / "junit.xml").write_text(junit_xml(report))
        for r in runs:
            (tmp / f"run-seed{r.seed}.json").write_text(r.record.model_dump_json(indent=2) + "\n")
            (tmp / f"console-seed{r.seed}.log").write_text("\n".join(r.console) + "\n")
        (tmp / "report.html").write_text(render_html(report, plot))
        if failed is not None:  # its run-seed<N>.json is the record
            keep_failure_artefacts(tmp, failed.record, failed.console, failed.record.engine_log, write_record=False)

    if isinstance(out, ReportDir):
        return out.write(fill)
    return write_atomically(out, fill)


def summary_lines(report: Report, out: Path) -> list[str]:
    """What `cosim run SCENARIO.yaml` prints: failed runs, every check, the time basis, notes and the verdict."""
    lines = []
    for run in report.runs:
        if run.status != "exited" or run.exit_code not in (0, None):
            lines += failed_run_lines(run)
    for c in report.checks:
        lines.append(f"{c.status.value.upper():4}  {c.message}")
    if report.timing is not None:
        lines.append(f"time basis: {report.timing.factor_summary}")
    if report.baseline is not None:
        b = report.baseline
        lines.append(f"baseline: {b.path} (fail on growth above {b.threshold_pct:g} %)")
        lines += [f"note: {n}" for n in b.notes]
    lines += [f"note: {n}" for n in report.notes]
    lines.append(f"verdict: {report.verdict.upper()}  (report: {out}/report.html)")
    return lines
