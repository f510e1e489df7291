"""`cosim run SCENARIO.yaml`: build (or take) the scenario's firmware, stream its sensors into the board for the
scenario's duration, once per seed, check the `expect:` block and write the report (docs/verdicts.md).

Exit codes: 0 every expectation holds; 1 one fails (or a run failed); 2 bad input; 3 engine or internal error.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from tinyml_cosim.core.errors import EXIT_ENGINE_ERROR, EXIT_FAILED, EXIT_OK, BadInput, CosimError
from tinyml_cosim.core.run_limits import default_timeout_s, with_slack
from tinyml_cosim.run.record import RunRecord, Status

DEFAULT_REPORTS_DIR = Path("reports")


@dataclass
class ScenarioRunRequest:
    scenario: Path
    engine: str | None = None
    out: Path | None = None  # default: reports/<scenario file stem>
    seeds: int = 1
    jobs: int | None = None  # parallel runs (default: min(seeds, cores))
    timeout_s: float | None = None  # wall-clock backstop per run (default: 60 s + 20 x duration)
    echo: Callable[[str], None] | None = None  # progress lines for people
    replay: Path | None = None  # a report directory: re-evaluate its recorded runs instead of running the firmware
    baseline: Path | None = None  # an earlier report.json (or its directory): fail on growth beyond the threshold
    baseline_threshold_pct: float = 2.0
    # the kernel set the app is built with; also selects the silicon factor (default: expect.timing.kernels, else ref)
    kernels: str | None = None


@dataclass
class ScenarioOutcome:
    report: object  # tinyml_cosim.results.model.Report
    out: Path

    @property
    def exit_code(self) -> int:
        return self.report.exit_code  # type: ignore[attr-defined]


def is_scenario_path(path: Path) -> bool:
    return Path(path).suffix.lower() in (".yaml", ".yml")


def run_seed(
    scenario: Path,
    elf: Path,
    engine: str | None,
    seed: int,
    duration_s: float,
    timeout_s: float,
    lines: list[str] | None = None,
) -> tuple[RunRecord, list[str]]:
    """One run of the scenario with one seed (a top-level function: it runs in worker processes)."""
    from tinyml_cosim.run.session import RunRequest, run_firmware
    from tinyml_cosim.scenario import load_scenario
    from tinyml_cosim.scenario.delivery import data_service_for

    scn = load_scenario(scenario)
    lines = [] if lines is None else lines  # console lines as they arrive (kept when the engine raises)
    record = run_firmware(
        RunRequest(
            elf=elf,
            board=scn.board,
            engine=engine,
            duration_s=duration_s,
            timeout_s=timeout_s,
            data=data_service_for(scn, seed),
            echo=lines.append,
            scenario=scenario,
            seed=seed,
        )
    )
    return record, lines


def run_seed_for_report(
    scenario: Path, elf: Path, engine: str | None, seed: int, duration_s: float, timeout_s: float
) -> tuple[RunRecord, list[str]]:
    """run_seed, but an engine error (not installed, could not start, lost) becomes a record with status error and
    the console lines so far, so the report says what happened (a top-level function: it runs in workers)."""
    from tinyml_cosim.scenario import load_scenario

    lines: list[str] = []
    try:
        record, lines = run_seed(scenario, elf, engine, seed, duration_s, timeout_s, lines)
    except CosimError as exc:
        if exc.exit_code != EXIT_ENGINE_ERROR:
            raise
        record = error_record(load_scenario(scenario).board, engine, elf, f"engine error: {exc}", lines)
    except Exception as exc:  # an internal error (exit 3 too): the report says so instead of a bare traceback
        what = f"internal error: {type(exc).__name__}: {exc}"
        record = error_record(load_scenario(scenario).board, engine, elf, what, lines)
    return record, lines


def error_record(board_id: str, engine: str | None, elf: Path, diagnosis: str, lines: list[str]) -> RunRecord:
    """A run record for a run that never produced one (the engine raised)."""
    from tinyml_cosim.core.boards import load_board
    from tinyml_cosim.core.provenance import file_sha256
    from tinyml_cosim.engines.registry import resolve_engine_name

    board = load_board(board_id)
    try:
        name = resolve_engine_name(engine)
    except CosimError:
        name = engine or "unknown"
    return RunRecord(
        status=Status.ERROR,
        diagnosis=diagnosis,
        console_tail=lines[-20:],
        board=board.id,
        engine=name,
        elf=str(elf),
        elf_sha256=file_sha256(elf) or "",
        clock_hz=board.clock_hz,
    )


def _worker_init() -> None:
    """Workers ignore Ctrl-C (the terminal sends it to the whole process group): the parent decides, and ends them
    with SIGTERM, which stops their emulators and unwinds (process_registry)."""
    from tinyml_cosim.engines import launcher

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    launcher.install_signal_handlers()


def _run_all(args: list[tuple], jobs: int) -> list[tuple[RunRecord, list[str]]]:
    if jobs <= 1 or len(args) <= 1:
        return [run_seed_for_report(*a) for a in args]
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_worker_init)
    futures: list[Future] = []
    try:
        futures = [pool.submit(run_seed_for_report, *a) for a in args]
        return [f.result() for f in futures]
    except BaseException:
        # Interrupted (or one run raised): stop the others. A worker stops its emulator on SIGTERM, and the
        # emulator dies with the worker in any case (PR_SET_PDEATHSIG).
        for f in futures:
            f.cancel()
        for pid in list(getattr(pool, "_processes", {}) or {}):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def expect_of(scn, path: Path):  # type: ignore[no-untyped-def]
    """The scenario's `expect:` block, typed; a problem is one `file:line: expect.…: problem` BadInput."""
    from tinyml_cosim.core.yamlfile import load_yaml
    from tinyml_cosim.scenario.load import format_problem
    from tinyml_cosim.verdicts.expect import ExpectationError
    from tinyml_cosim.verdicts.spec import parse_expect

    try:
        return parse_expect(scn.expect)
    except ExpectationError as exc:
        _, lines = load_yaml(path)
        raise BadInput(format_problem(path, lines, exc.loc, exc.detail)) from None


def recorded_runs(
    directory: Path, elf_sha256: str, scenario_sha256: str | None, notes: list[str]
) -> tuple[list[int], list[tuple[RunRecord, list[str]]]]:
    """The run records (run-seed<N>.json) and console logs of an earlier report, for re-evaluation.

    Refused when they were recorded with another ELF (the memory verdict would not be about the same image); a
    changed scenario file is allowed (typically its expectations were edited) and noted in the report."""
    files = sorted(Path(directory).glob("run-seed*.json"), key=lambda p: int(p.stem.removeprefix("run-seed") or 0))
    if not files:
        raise BadInput(f"{directory}: no recorded runs (run-seed<N>.json) to replay")
    seeds, out = [], []
    for f in files:
        try:
            rec = RunRecord.model_validate_json(f.read_text())
        except ValueError as exc:
            raise BadInput(f"{f}: not a run record: {str(exc).splitlines()[0]}") from None
        if rec.elf_sha256 != elf_sha256:
            raise BadInput(
                f"{f}: recorded with an ELF of SHA-256 {rec.elf_sha256[:12]}…, but the scenario's firmware is now "
                f"{elf_sha256[:12]}…: run the scenario again instead of replaying"
            )
        seed = rec.provenance.seed if rec.provenance and rec.provenance.seed is not None else int(f.stem[8:])
        if rec.provenance and rec.provenance.scenario_sha256 != scenario_sha256:
            notes.append(f"seed {seed}: the scenario file changed since this run was recorded (replayed anyway)")
        log = f.with_name(f"console-seed{seed}.log")
        seeds.append(seed)
        out.append((rec, log.read_text().splitlines() if log.is_file() else []))
    notes.append(f"replayed from {directory}: no emulator ran")
    return seeds, out


def _firmware(scn, board, kernels: str = "ref", engine: str | None = None) -> Path:  # type: ignore[no-untyped-def]
    """The scenario's ELF: its `firmware:` as given, or its `app:` built with its `model:` and `kernels` (with the
    RAM mailbox when `engine` needs it)."""
    if scn.firmware is not None:
        elf = (scn.base_dir / scn.firmware).resolve()
        if not elf.is_file():
            raise BadInput(f"{scn.path}: firmware: {elf} does not exist (build it, or give app: instead)")
        return elf
    from tinyml_cosim.build.firmware import build
    from tinyml_cosim.engines.registry import needs_mailbox

    model = (scn.base_dir / scn.model).resolve() if scn.model else None
    if model is not None and not model.is_file():
        raise BadInput(f"{scn.path}: model: {model} does not exist")
    return build(board, scn.app, model=model, kernels=kernels, mailbox=needs_mailbox(engine)).elf


def run_scenario(req: ScenarioRunRequest) -> ScenarioOutcome:
    from tinyml_cosim import __version__
    from tinyml_cosim.core.boards import KernelSet, load_board
    from tinyml_cosim.core.provenance import file_sha256
    from tinyml_cosim.elf.image import load_image
    from tinyml_cosim.engines.registry import resolve_engine_name
    from tinyml_cosim.results.model import Report, ScenarioInfo
    from tinyml_cosim.run.replay import worst_window_files
    from tinyml_cosim.scenario import load_scenario
    from tinyml_cosim.verdicts import evaluate as ev

    path = Path(req.scenario)
    if not path.is_file():
        raise BadInput(f"{path}: no such scenario file")
    if req.seeds < 1:
        raise BadInput(f"--seeds must be at least 1, got {req.seeds}")
    scn = load_scenario(path)
    spec = expect_of(scn, path)
    board = load_board(scn.board)
    if req.kernels is not None:
        if req.kernels not in get_args(KernelSet):
            raise BadInput(f"--kernels {req.kernels!r}: choose one of {', '.join(get_args(KernelSet))}")
        spec.timing_cfg = spec.timing_cfg.model_copy(update={"kernels": req.kernels})
    elf = _firmware(scn, board, spec.timing_cfg.kernels, resolve_engine_name(req.engine))
    image = load_image(elf, board)
    engine = resolve_engine_name(req.engine)
    say = req.echo or (lambda _line: None)
    notes: list[str] = []
    baseline = None
    if req.baseline is not None:
        from tinyml_cosim.verdicts.baseline import load_baseline

        if req.baseline_threshold_pct < 0:
            raise BadInput(f"--baseline-threshold must not be negative, got {req.baseline_threshold_pct}")
        baseline = load_baseline(req.baseline)
    if req.replay is not None:
        seeds, results = recorded_runs(req.replay, image.sha256, file_sha256(path), notes)
        say(f"[scenario] {scn.name or path.stem}: replaying {len(seeds)} recorded run(s) from {req.replay}")
    else:
        seeds = [scn.seed + i for i in range(req.seeds)]
        duration = with_slack(scn.duration_s)
        timeout = default_timeout_s(scn.duration_s, req.timeout_s)
        jobs = req.jobs if req.jobs is not None else min(len(seeds), os.cpu_count() or 1)
        say(f"[scenario] {scn.name or path.stem}: {len(seeds)} seed(s) on {engine}/{board.id}, {jobs} at a time")
        results = _run_all([(path.resolve(), elf, req.engine, s, duration, timeout) for s in seeds], jobs)
    runs = [ev.SeedRun(s, rec) for s, (rec, _) in zip(seeds, results, strict=True)]
    engine_failed = [r for r in runs if r.record.status in (Status.CRASH, Status.ERROR)]

    checks = [ev.run_check(r) for r in runs]
    segments = ev.segments_of(scn)
    decisions = timing = None
    tres: list = [None] * len(runs)
    if engine_failed:
        # No verdict on what the firmware did: the engine failed under it. The report still says what happened.
        for r in engine_failed:
            notes.append(f"seed {r.seed}: {r.record.status.value}: {r.record.diagnosis}")
        notes.append("engine error: decisions and inference time are not evaluated; memory is from the ELF")
    else:
        window_s = None
        if segments:
            decisions, dchecks, dres = ev.decision_section(runs, segments, scn.duration_s, spec)
            window_s = dres[0].alignment.window_s or None
            checks += dchecks
        elif spec.has_decision:
            raise BadInput(f"{path}: expect.decision needs a timeline (the ground truth) in the scenario")
        timing, tchecks, tres = ev.timing_section(runs, board, spec, window_s)
        checks += tchecks
    stacks = [ev.stack_used_of(r.record) for r in runs]
    known = [s for s in stacks if s is not None]
    memory, mchecks, _ = ev.memory_section(image, board, spec, max(known) if known else None)
    checks += mchecks
    if not known:
        notes.append("no stack high-water mark: no run ended with an EXIT event carrying stack_used")
    if timing is not None and not timing.inferences:
        notes.append(f"no {timing.span!r} spans: inference time is not measured")
    report = Report(
        tool_version=f"tinyml-cosim {__version__}",
        verdict="pass",
        exit_code=EXIT_OK,
        scenario=ScenarioInfo(
            name=scn.name or path.stem,
            path=str(path),
            sha256=file_sha256(path) or "",
            board=board.id,
            engine=runs[0].record.engine,
            app=scn.app,
            firmware=str(elf),
            duration_s=scn.duration_s,
        ),
        seeds=seeds,
        runs=[_run_summary(r, res, st) for r, res, st in zip(runs, tres, stacks, strict=True)],
        checks=checks,
        decisions=decisions,
        timing=timing,
        memory=memory,
        notes=notes,
    )
    if baseline is not None and not engine_failed:
        from tinyml_cosim.verdicts.baseline import compare

        report.baseline, bchecks = compare(report, baseline[1], str(baseline[0]), req.baseline_threshold_pct)
        report.checks += bchecks
    elif baseline is not None:
        notes.append(f"baseline {baseline[0]} not compared: the engine failed")
    failed = any(c.failed for c in report.checks)
    if engine_failed:
        report.verdict, report.exit_code = "error", EXIT_ENGINE_ERROR
    elif failed:
        report.verdict, report.exit_code = "fail", EXIT_FAILED
    plot = _plot_data(scn, seeds[0], runs[0].record, tres[0].counts if tres[0] else [], results[0][1])
    out = req.out if req.out is not None else DEFAULT_REPORTS_DIR / path.stem
    extra = worst_window_files(scn, report, {s: rec for s, (rec, _) in zip(seeds, results, strict=True)})
    write_report(out, report, [(s, rec, lines) for s, (rec, lines) in zip(seeds, results, strict=True)], plot, extra)
    return ScenarioOutcome(report, out)


# Fields a run summary takes from the run record unchanged.
_RECORD_FIELDS = {
    "exit_code", "diagnosis", "instructions", "simulated_seconds", "wall_seconds", "pc", "pc_symbol", "lr",
    "cfsr", "hfsr", "bfar", "mmfar", "fault_bits", "fingerprint",
}  # fmt: skip


def _run_summary(r, res, stack_used):  # type: ignore[no-untyped-def]
    from tinyml_cosim.results.model import RunSummary

    rec = r.record
    return RunSummary(
        **rec.model_dump(include=_RECORD_FIELDS),
        seed=r.seed,
        status=rec.status.value,
        decisions=sum(e.kind == "DECISION" for e in rec.events),
        inferences=res.n if res is not None else 0,
        stack_used=stack_used,
        console_tail=rec.console_tail[-10:],
        provenance=rec.provenance.model_dump(mode="json") if rec.provenance else None,
        run_record=f"run-seed{r.seed}.json",
        console_log=f"console-seed{r.seed}.log",
    )


def _plot_data(scn, seed: int, record: RunRecord, counts: list[int], console: list[str]):  # type: ignore[no-untyped-def]
    from tinyml_cosim.report.html import PlotData
    from tinyml_cosim.verdicts.decisions import decisions_from_record

    p = PlotData(seed=seed, inference_instructions=counts, console=console)
    p.segments = [(s.start_s, s.stop_s, s.label) for s in scn.timeline]
    p.decisions = [(d.t_s, d.cls) for d in decisions_from_record(record)]
    try:
        spec = scn.sensors[0]
        stream = scn.generate(seed)[spec.id]
        p.signal_t = stream.timestamps_ns / 1e9
        p.signal = stream.physical
        p.channels = list(stream.channels)
        p.unit = stream.unit
        p.sensor = spec.id
    except Exception as exc:  # a plot is never worth failing the verdict for
        p.console = [*console, f"(signal not plotted: {exc})"]
    return p


def write_report(  # type: ignore[no-untyped-def]
    out: Path, report, runs: list[tuple[int, RunRecord, list[str]]], plot, extra: dict[str, bytes] | None = None
) -> Path:
    """`extra`: more files for the report directory (the worst window's input), name -> bytes."""
    from tinyml_cosim.report.html import render_html
    from tinyml_cosim.report.junit import junit_xml
    from tinyml_cosim.report.writer import write_atomically
    from tinyml_cosim.results.artefacts import keep_failure_artefacts

    failed = next(((rec, lines) for _, rec, lines in runs if not rec.succeeded), None)  # the first failed run's

    def fill(tmp: Path) -> None:
        for name, data in (extra or {}).items():
            (tmp / name).write_bytes(data)
        (tmp / "report.json").write_text(report.model_dump_json(indent=2) + "\n")
        (tmp / "junit.xml").write_text(junit_xml(report))
        for seed, rec, lines in runs:
            (tmp / f"run-seed{seed}.json").write_text(rec.model_dump_json(indent=2) + "\n")
            (tmp / f"console-seed{seed}.log").write_text("\n".join(lines) + "\n")
        (tmp / "report.html").write_text(render_html(report, plot))
        if failed is not None:  # its run-seed<N>.json is the record; engine.log needs the engine (see run_firmware)
            keep_failure_artefacts(tmp, failed[0], failed[1], None, write_record=False)

    return write_atomically(out, fill)


def summary_lines(outcome: ScenarioOutcome) -> list[str]:
    from tinyml_cosim.results.model import failed_run_lines

    r = outcome.report
    lines = []
    for run in r.runs:  # type: ignore[attr-defined]
        if run.status != "exited" or run.exit_code not in (0, None):
            lines += failed_run_lines(run)
    for c in r.checks:  # type: ignore[attr-defined]
        lines.append(f"{c.status.value.upper():4}  {c.message}")
    if r.timing is not None:  # type: ignore[attr-defined]
        lines.append(f"time basis: {r.timing.factor_summary}")  # type: ignore[attr-defined]
    if r.baseline is not None:  # type: ignore[attr-defined]
        b = r.baseline  # type: ignore[attr-defined]
        lines.append(f"baseline: {b.path} (fail on growth above {b.threshold_pct:g} %)")
        lines += [f"note: {n}" for n in b.notes]
    lines += [f"note: {n}" for n in r.notes]  # type: ignore[attr-defined]
    lines.append(f"verdict: {r.verdict.upper()}  (report: {outcome.out}/report.html)")  # type: ignore[attr-defined]
    return lines


def debug_scenario(scenario: Path, engine: str | None = None, port: int | None = None, seed: int | None = None):  # type: ignore[no-untyped-def]
    """`cosim run SCENARIO.yaml --gdb`: the scenario's firmware, halted at reset under a GDB server, with the
    scenario's sensor streams (seed: the scenario's) on the data channel. Returns (run.debug.DebugSession, not yet
    entered; the instruction count at which the scenario's duration plus slack is over). No verdicts: a debugger
    holds the CPU."""
    from tinyml_cosim.core.boards import load_board
    from tinyml_cosim.run.debug import DebugSession
    from tinyml_cosim.scenario import load_scenario
    from tinyml_cosim.scenario.delivery import data_service_for

    path = Path(scenario)
    if not path.is_file():
        raise BadInput(f"{path}: no such scenario file")
    from tinyml_cosim.engines.registry import resolve_engine_name

    scn = load_scenario(path)
    board = load_board(scn.board)
    elf = _firmware(scn, board, engine=resolve_engine_name(engine))
    duration = with_slack(scn.duration_s)
    data = data_service_for(scn, scn.seed if seed is None else seed)
    return DebugSession(elf, board.id, engine, port, data=data), board.instructions(duration)
