"""`cosim run SCENARIO.yaml`: build (or take) the scenario's firmware, stream its sensors into the board for the
scenario's duration, once per seed, check the `expect:` block and write the report (docs/verdicts.md).

The steps live beside this module: the seeds' runs and their worker pool in `pool`, the replayed runs in
`recorded`, the report and its directory in `report_assembly`; their public names are importable from here too.
Exit codes: 0 every expectation holds; 1 one fails (or a run failed); 2 bad input; 3 engine or internal error.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from tinyml_cosim.build.firmware import build
from tinyml_cosim.core.boards import Board, KernelSet, load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.inputs import (
    MAX_ELF_BYTES,
    MAX_TFLITE_BYTES,
    MAX_YAML_BYTES,
    check_input_file,
    source_file,
    source_roots,
)
from tinyml_cosim.core.provenance import file_sha256
from tinyml_cosim.core.report_dir import ReportDir
from tinyml_cosim.core.run_limits import MAX_SEEDS, MAX_THRESHOLD_PCT, default_timeout_s, with_slack
from tinyml_cosim.core.yamlfile import load_yaml
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines.registry import needs_mailbox, resolve_engine_name
from tinyml_cosim.orchestrate.pool import error_record, run_all, run_seed, run_seed_for_report
from tinyml_cosim.orchestrate.recorded import recorded_runs
from tinyml_cosim.orchestrate.report_assembly import ScenarioRuns, assemble_report, plot_data, write_report
from tinyml_cosim.orchestrate.report_assembly import summary_lines as report_summary_lines
from tinyml_cosim.results.model import Report
from tinyml_cosim.run.debug import DebugSession
from tinyml_cosim.run.record import SeedRun
from tinyml_cosim.verdicts.baseline import load_baseline

if TYPE_CHECKING:  # annotations only: both load numpy (see expect_of)
    from tinyml_cosim.scenario.model import Scenario
    from tinyml_cosim.verdicts.spec import ExpectSpec

__all__ = [
    "DEFAULT_REPORTS_DIR", "ScenarioOutcome", "ScenarioRunRequest", "debug_scenario", "error_record", "expect_of",
    "is_scenario_path", "recorded_runs", "run_scenario", "run_seed", "run_seed_for_report", "summary_lines",
    "write_report",
]  # fmt: skip

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
    force: bool = False  # --force: write into an --out that is not a report of ours (core.report_dir.ReportDir)
    app_dir: Path | None = None  # --app-dir: a directory of apps the scenario's `app:` may name (build.firmware)


@dataclass
class ScenarioOutcome:
    report: Report
    out: Path

    @property
    def exit_code(self) -> int:
        return self.report.exit_code


def is_scenario_path(path: Path) -> bool:
    return Path(path).suffix.lower() in (".yaml", ".yml")


def expect_of(scn: Scenario, path: Path) -> ExpectSpec:
    """The scenario's `expect:` block, typed; a problem is one `file:line: expect.…: problem` BadInput."""
    # Lazy: the scenario and the expectation spec load numpy, which `cosim run ELF` never needs.
    from tinyml_cosim.scenario.load import format_problem
    from tinyml_cosim.verdicts.expect import ExpectationError
    from tinyml_cosim.verdicts.spec import parse_expect

    try:
        return parse_expect(scn.expect)
    except ExpectationError as exc:
        _, lines = load_yaml(path)
        raise BadInput(format_problem(path, lines, exc.loc, exc.detail)) from None


def _firmware(
    scn: Scenario, board: Board, kernels: str = "ref", engine: str | None = None, app_dir: Path | None = None
) -> Path:
    """The scenario's ELF: its `firmware:` as given, or its `app:` (from the project's apps or `app_dir`) built with
    its `model:` and `kernels` (with the RAM mailbox when `engine` needs it)."""
    if scn.firmware is not None:
        elf = scn.base_dir / scn.firmware
        if not elf.exists() and not elf.is_symlink():
            raise BadInput(f"{scn.path}: firmware: {elf} does not exist (build it, or give app: instead)")
        # Confined like the scenario's other files: symlinks resolved, under its directory or an --allow-root.
        return check_input_file(elf, what="firmware ELF", max_bytes=MAX_ELF_BYTES, roots=source_roots(scn.base_dir))
    model = None
    if scn.model:
        # Confined like every source file of a scenario: under its directory or the allowed roots.
        model = source_file(scn.base_dir, scn.model, what="model", max_bytes=MAX_TFLITE_BYTES)
    assert scn.app is not None  # the scenario model requires firmware or app
    app_dirs = (app_dir,) if app_dir is not None else ()
    return build(board, scn.app, model=model, kernels=kernels, mailbox=needs_mailbox(engine), app_dirs=app_dirs).elf


def run_scenario(req: ScenarioRunRequest) -> ScenarioOutcome:
    from tinyml_cosim.run.replay import worst_window_files  # lazy: it loads the scenario package (numpy)

    path = Path(req.scenario)
    _check_request(req, path)
    out = req.out if req.out is not None else DEFAULT_REPORTS_DIR / path.stem
    baseline = _baseline(req)  # before the build and the runs: a bad --baseline costs nothing
    target = ReportDir(out, force=req.force)
    target.check(create_parent=False)  # a bad --out costs nothing either, and a bad scenario creates nothing
    sr = _prepare(req, path)
    # The report directory is locked from before the runs to the end of the write: a second run into it is
    # refused before it emulates anything.
    with target:
        notes: list[str] = []
        sr.runs = _runs(req, sr, notes)
        report, tres = assemble_report(sr, notes, baseline, req.baseline_threshold_pct)
        first = sr.runs[0]
        plot = plot_data(sr.scn, first, tres[0].counts if tres[0] else [])
        extra = worst_window_files(sr.scn, report, {r.seed: r.record for r in sr.runs})
        write_report(target, report, sr.runs, plot, extra)
    return ScenarioOutcome(report, out)


def _check_request(req: ScenarioRunRequest, path: Path) -> None:
    """What can be checked before the report directory is taken: the file exists, the numbers are in range."""
    # core.inputs: a FIFO, a device or a directory is refused here without being opened.
    if not path.exists() and not path.is_symlink():
        raise BadInput(f"{path}: no such scenario file")
    check_input_file(path, what="scenario file", max_bytes=MAX_YAML_BYTES)
    if not 1 <= req.seeds <= MAX_SEEDS:
        raise BadInput(
            f"--seeds {req.seeds}: give 1 to {MAX_SEEDS} (each seed is one whole emulated run of the scenario)"
        )
    if req.timeout_s is not None and not (math.isfinite(req.timeout_s) and req.timeout_s > 0):
        raise BadInput(f"--timeout {req.timeout_s}: give a finite number of seconds > 0")
    if req.replay is not None and not Path(req.replay).is_dir():
        raise BadInput(f"--replay {req.replay}: not a directory (give the report directory of an earlier run)")
    if not (math.isfinite(req.baseline_threshold_pct) and 0 <= req.baseline_threshold_pct <= MAX_THRESHOLD_PCT):
        raise BadInput(
            f"--baseline-threshold {req.baseline_threshold_pct}: give a percentage from 0 to {MAX_THRESHOLD_PCT:g}"
        )


def _prepare(req: ScenarioRunRequest, path: Path) -> ScenarioRuns:
    """The request checked; the scenario, its expectations, its board and its firmware (built when needed)."""
    from tinyml_cosim.scenario import load_scenario  # lazy: numpy (see expect_of)

    scn = load_scenario(path)
    spec = expect_of(scn, path)
    board = load_board(scn.board)
    if req.kernels is not None:
        if req.kernels not in get_args(KernelSet):
            raise BadInput(f"--kernels {req.kernels!r}: choose one of {', '.join(get_args(KernelSet))}")
        spec.timing_cfg = spec.timing_cfg.model_copy(update={"kernels": req.kernels})
    elf = _firmware(scn, board, spec.timing_cfg.kernels, resolve_engine_name(req.engine), req.app_dir)
    return ScenarioRuns(scn, path, board, elf, load_image(elf, board), spec, runs=[])


def _baseline(req: ScenarioRunRequest) -> tuple[Path, Any] | None:
    if req.baseline is None:
        return None
    if req.baseline_threshold_pct < 0:
        raise BadInput(f"--baseline-threshold must not be negative, got {req.baseline_threshold_pct}")
    return load_baseline(req.baseline)


def _runs(req: ScenarioRunRequest, sr: ScenarioRuns, notes: list[str]) -> list[SeedRun]:
    """The recorded runs (`--replay`), else one run per seed, `jobs` at a time."""
    say = req.echo or (lambda _line: None)
    name = sr.scn.name or sr.path.stem
    if req.replay is not None:
        runs = recorded_runs(req.replay, sr.image.sha256, file_sha256(sr.path), notes)
        say(f"[scenario] {name}: replaying {len(runs)} recorded run(s) from {req.replay}")
        return runs
    seeds = [sr.scn.seed + i for i in range(req.seeds)]
    duration = with_slack(sr.scn.duration_s)
    timeout = default_timeout_s(sr.scn.duration_s, req.timeout_s)
    jobs = req.jobs if req.jobs is not None else min(len(seeds), os.cpu_count() or 1)
    engine = resolve_engine_name(req.engine)
    which = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}..{seeds[-1]}"
    say(
        f"[scenario] {name}: {len(seeds)} run(s) ({which}) of {sr.scn.duration_s:g} s simulated each on "
        f"{engine}/{sr.board.id}, {jobs} at a time (each run stops after at most {timeout:g} s wall time)"
    )

    def done(i: int, run: SeedRun) -> None:
        if len(seeds) > 1:  # a single run says how it ended in the summary
            rec = run.record
            wall = f", {rec.wall_seconds:.1f} s" if rec.wall_seconds is not None else ""
            say(f"[scenario] seed {run.seed} done ({i + 1}/{len(seeds)}): {rec.status.value}{wall}")

    args = [(sr.path.resolve(), sr.elf, req.engine, s, duration, timeout) for s in seeds]
    return run_all(args, jobs, done)


def summary_lines(outcome: ScenarioOutcome) -> list[str]:
    """What `cosim run SCENARIO.yaml` prints (tinyml_cosim.orchestrate.report_assembly.summary_lines)."""
    return report_summary_lines(outcome.report, outcome.out)


def debug_scenario(
    scenario: Path,
    engine: str | None = None,
    port: int | None = None,
    seed: int | None = None,
    app_dir: Path | None = None,
) -> tuple[DebugSession, int]:
    """`cosim run SCENARIO.yaml --gdb`: the scenario's firmware, halted at reset under a GDB server, with the
    scenario's sensor streams (seed: the scenario's) on the data channel. Returns (run.debug.DebugSession, not yet
    entered; the instruction count at which the scenario's duration plus slack is over). No verdicts: a debugger
    holds the CPU."""
    from tinyml_cosim.scenario import load_scenario  # lazy: numpy (see expect_of)
    from tinyml_cosim.scenario.delivery import data_service_for

    path = Path(scenario)
    if not path.exists() and not path.is_symlink():
        raise BadInput(f"{path}: no such scenario file")
    check_input_file(path, what="scenario file", max_bytes=MAX_YAML_BYTES)
    scn = load_scenario(path)
    board = load_board(scn.board)
    elf = _firmware(scn, board, engine=resolve_engine_name(engine), app_dir=app_dir)
    duration = with_slack(scn.duration_s)
    data = data_service_for(scn, scn.seed if seed is None else seed)
    return DebugSession(elf, board.id, engine, port, data=data), board.instructions(duration)
