"""An interactive board: a scenario (with faults injected on top of its impairments, `faults`), its firmware, runs
for simulated time, the decisions and resources of the last run. The Robot Framework library (`robot/`) and the
pytest plugin are thin layers over this module; everything here goes through the same functions as `cosim run`
(`run_scenario`, `run_seed`, `run_firmware`, `make_record`, the verdict evaluators).

Simulated time moves forward from the moment the board starts: `run_for(2.0)` then `run_for(1.0)` leaves the
board at t = 3 s. With a scenario on QEMU the steps continue one emulator session (`live_run.LiveRun`), exactly as
one uninterrupted run. Elsewhere (Renode, or a firmware without a scenario, which has no data requests to hold)
each step replays the run from boot up to the new time: runs are deterministic, so the replayed part is the run
already seen; only wall-clock time is spent.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tinyml_cosim.build.firmware import build
from tinyml_cosim.core.boards import Board, load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.run_limits import default_timeout_s, with_slack
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines.registry import (
    check_engine,
    engine_class,
    engine_problem,
    needs_mailbox,
    resolve_engine_name,
)
from tinyml_cosim.orchestrate.faults import scenario_data, validate, with_fault
from tinyml_cosim.orchestrate.pool import run_seed
from tinyml_cosim.orchestrate.scenario_runs import ScenarioOutcome, ScenarioRunRequest, _firmware, run_scenario
from tinyml_cosim.run.debug import DebugSession
from tinyml_cosim.run.record import RunRecord, SeedRun
from tinyml_cosim.run.session import RunRequest, run_firmware
from tinyml_cosim.verdicts.decisions import Decision, decisions_from_record

if TYPE_CHECKING:  # annotations only: the verdicts load numpy and capstone (see timing)
    from tinyml_cosim.orchestrate.live_run import LiveRun
    from tinyml_cosim.results.model import TimingReport
    from tinyml_cosim.verdicts.expect import Check
    from tinyml_cosim.verdicts.memory import MemoryResult
    from tinyml_cosim.verdicts.spec import ExpectSpec

DEFAULT_BOARD = "stm32f405"


def __getattr__(name: str) -> Any:
    """`LiveRun` and `HeldDataService` moved to tinyml_cosim.orchestrate.live_run, which loads the scenario package
    (numpy): imported on first use, so that the Robot library and the pytest plugin start without it."""
    if name in ("LiveRun", "HeldDataService"):
        from tinyml_cosim.orchestrate import live_run

        return getattr(live_run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class Run(SeedRun):
    """One run of the firmware from boot (seed, record, every console line), with the board's views of it."""

    @property
    def end_s(self) -> float:
        return self.record.simulated_seconds or 0.0

    @property
    def decisions(self) -> list[Decision]:
        return decisions_from_record(self.record)


@dataclass
class DecisionWait:
    """The outcome of waiting for a decision: the decision (None: not seen) and what was seen meanwhile."""

    decision: Decision | None
    since_s: float
    until_s: float
    seen: list[Decision] = field(default_factory=list)
    run: Run | None = None


def engine_unavailable_reason(engine: str | None, board: str | None = None) -> str | None:
    """Why `engine` (resolved like `--engine`) cannot run `board` on this machine, or None."""
    error = engine_problem(resolve_engine_name(engine), load_board(board or DEFAULT_BOARD))
    return str(error) if error is not None else None


class BoardSession:
    """One board on one engine. `board`/`engine` None: the scenario's board (else stm32f405), and the engine as
    `cosim run` resolves it ($COSIM_ENGINE, ./cosim.yaml, qemu). Use as a context manager or call `close()`."""

    def __init__(
        self,
        board: str | None = None,
        engine: str | None = None,
        app: str | None = None,
        firmware: Path | None = None,
        workdir: Path | None = None,
        jobs: int = 1,
        resume: bool = True,
    ) -> None:
        if app is not None and firmware is not None:
            raise BadInput("give either an app or a firmware ELF, not both")
        self.explicit_board = board
        self.engine = resolve_engine_name(engine)
        engine_class(self.engine)  # unknown engine names fail here
        self.app = app
        self.firmware = Path(firmware).resolve() if firmware is not None else None
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="cosim-board-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.jobs = jobs
        self.scenario_source: Path | None = None
        self._scenario: dict[str, Any] | None = None
        self.faults: list[dict[str, Any]] = []
        self.seed: int | None = None
        self.now_s = 0.0
        self.last_run: Run | None = None
        self.outcome: ScenarioOutcome | None = None  # of the last Run Scenario
        self.debug: DebugSession | None = None  # while a GDB server runs
        self._elf: Path | None = None
        self._runs = 0
        self.resume = resume  # steps continue one emulator session where the engine allows it (LiveRun)
        self._live: LiveRun | None = None

    # --- configuration --------------------------------------------------------------------------------------
    @property
    def board_id(self) -> str:
        if self.explicit_board:
            return self.explicit_board
        if self._scenario is not None:
            return str(self._scenario["board"])
        return DEFAULT_BOARD

    @property
    def board(self) -> Board:
        return load_board(self.board_id)

    def check_available(self) -> None:
        """Raise BadInput (the board has no model there) or EngineUnavailable (not installed) before any run."""
        check_engine(self.engine, self.board)

    @property
    def scenario_name(self) -> str:
        if self._scenario is None:
            return "(no scenario)"
        return str(self._scenario.get("name") or (self.scenario_source.stem if self.scenario_source else "scenario"))

    def load_scenario(self, path: Path, seed: int | None = None) -> None:
        """Load and validate a scenario file; faults injected before are dropped, simulated time goes back to 0."""
        path = Path(path)
        if not path.is_file():
            raise BadInput(f"{path}: no such scenario file")
        data = scenario_data(path)
        self.scenario_source = path.resolve()
        self._scenario = data
        self.faults = []
        self.seed = seed
        self._elf = None
        self.reset()

    def inject_fault(
        self, kind: str, sensor: str, start_s: float, duration_s: float | None, parameters: dict[str, Any]
    ) -> dict[str, Any]:
        """Append an impairment to one sensor's chain of the loaded scenario (validated like a scenario file)."""
        if self._scenario is None:
            raise BadInput("no scenario loaded: load one before injecting a fault")
        fault = (kind, sensor, start_s, duration_s, parameters)
        self._scenario, impairment = with_fault(self._scenario, self.scenario_source, self.scenario_name, fault)
        self.faults.append({"sensor": sensor, **impairment})
        self.reset()
        return impairment

    def _effective(self) -> dict[str, Any]:
        assert self._scenario is not None
        data = copy.deepcopy(self._scenario)
        data["board"] = self.board_id
        if self.seed is not None:
            data["seed"] = int(self.seed)
        return data

    def scenario_file(self) -> Path:
        """The effective scenario (board, seed and injected faults applied) as a file `cosim run` accepts."""
        if self._scenario is None:
            raise BadInput("no scenario loaded")
        data = self._effective()
        validate(data, self.scenario_source)
        path = self.workdir / "scenario.yaml"
        note = f"# effective scenario: {self.scenario_source} on {self.board_id}"
        if self.faults:
            note += f", {len(self.faults)} injected fault(s)"
        path.write_text(note + "\n" + yaml.safe_dump(data, sort_keys=False))
        return path

    def elf(self) -> Path:
        """The firmware: the board's app or ELF, else the scenario's (built when needed, keyed by content)."""
        if self._elf is not None:
            return self._elf
        if self.firmware is not None:
            self._elf = self.firmware
        elif self.app is not None:
            self._elf = build(self.board, self.app, mailbox=needs_mailbox(self.engine)).elf
        elif self._scenario is not None:
            from tinyml_cosim.scenario import load_scenario  # lazy: numpy (see __getattr__)

            self._elf = _firmware(load_scenario(self.scenario_file()), self.board, engine=self.engine)
        else:
            raise BadInput("no firmware: start the board with an app or a firmware ELF, or load a scenario")
        return self._elf

    # --- running --------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to t = 0 (the next run starts from boot); results of earlier runs are forgotten."""
        self._stop_live()
        self.now_s = 0.0
        self.last_run = None
        self.outcome = None

    def _stop_live(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.close()

    def resumable(self) -> bool:
        """Whether steps continue one emulator session: a scenario (data requests to hold) on QEMU."""
        return self.resume and self._scenario is not None and engine_class(self.engine).supports_live_steps

    @property
    def live(self) -> LiveRun | None:
        """The emulator session the steps continue (`resumable`), while one is open: the only engine a board keeps
        open between calls."""
        return self._live

    def engine_log(self) -> str | None:
        """The engine's own log for the last run: the open session's as it is now, else the one the last run's
        record carried out of its engine (None: no run, no log, or a record read back from a report)."""
        if self._live is not None:
            return self._live.engine_log()
        return self.last_run.record.engine_log if self.last_run is not None else None

    def run_to(self, t_s: float, timeout_s: float | None = None) -> Run:
        """The run from boot to simulated time `t_s` (or until the firmware ends): continued from the previous step
        where the engine allows it (`resumable`), else run again from boot with a budget of t_s x f_clk."""
        if t_s <= 0:
            raise BadInput(f"simulated time must be positive, got {t_s:g} s")
        elf = self.elf()
        run = self._step_live(elf, t_s, timeout_s) if self.resumable() else self._run_from_boot(elf, t_s, timeout_s)
        self.last_run = run
        self.outcome = None
        self.now_s = t_s if run.record.status.value == "budget_reached" else min(t_s, run.end_s)
        return run

    def _step_live(self, elf: Path, t_s: float, timeout_s: float | None) -> Run:
        from tinyml_cosim.orchestrate.live_run import LiveRun  # lazy: numpy (see __getattr__)
        from tinyml_cosim.scenario import load_scenario

        if self._live is None:
            path = self.scenario_file()
            duration = with_slack(load_scenario(path).duration_s)  # Run Scenario's budget
            seed = int(self._effective()["seed"])
            self._live = LiveRun(path, elf, self.engine, seed, duration)
        step_s = max(t_s - self._live.board.seconds(self._live.reached), 0.0)
        record = self._live.step(t_s, default_timeout_s(step_s, timeout_s))
        return Run(self._live.seed, record, self._live.console(record))

    def _run_from_boot(self, elf: Path, t_s: float, timeout_s: float | None) -> Run:
        timeout = default_timeout_s(t_s, timeout_s)
        if self._scenario is not None:
            path = self.scenario_file()
            seed = int(self._effective()["seed"])
            record, lines = run_seed(path, elf, self.engine, seed, t_s, timeout)
            return Run(seed, record, lines)
        console: list[str] = []
        record = run_firmware(
            RunRequest(elf=elf, board=self.board_id, engine=self.engine, duration_s=t_s, timeout_s=timeout,
                       echo=console.append)
        )  # fmt: skip
        return Run(None, record, console)

    def run_for(self, duration_s: float, timeout_s: float | None = None) -> Run:
        """Advance simulated time by `duration_s` (see the module docstring)."""
        if duration_s <= 0:
            raise BadInput(f"simulated time must be positive, got {duration_s:g} s")
        return self.run_to(self.now_s + duration_s, timeout_s)

    def wait_for_decision(self, cls: str, within_s: float) -> DecisionWait:
        """Run until the firmware decides `cls`, at most `within_s` of simulated time from now."""
        since = self.now_s
        run = self.run_to(since + within_s)
        seen = [d for d in run.decisions if since < d.t_s <= since + within_s]
        hit = next((d for d in seen if d.cls == cls), None)
        if hit is not None:
            self.now_s = hit.t_s
        return DecisionWait(hit, since, run.end_s if run.end_s < since + within_s else since + within_s, seen, run)

    def decision_at(self, t_s: float | None = None) -> Decision | None:
        """The decision in force at `t_s` (default: now): the last one made at or before it."""
        if self.last_run is None:
            return None
        t = self.now_s if t_s is None else t_s
        made = [d for d in self.last_run.decisions if d.t_s <= t + 1e-12]
        return made[-1] if made else None

    def run_scenario(
        self, seeds: int = 1, out: Path | None = None, echo: Callable[[str], None] | None = None
    ) -> ScenarioOutcome:
        """`cosim run SCENARIO.yaml --seeds N` on the effective scenario: the report with every verdict."""
        self._stop_live()  # the report's runs are from boot; a later step starts a session again
        path = self.scenario_file()
        self._runs += 1
        out = out if out is not None else self.workdir / f"report-{self._runs}"
        outcome = run_scenario(
            ScenarioRunRequest(path, engine=self.engine, out=out, seeds=seeds, jobs=self.jobs, echo=echo)
        )
        first = outcome.report.seeds[0]
        rec = RunRecord.model_validate_json((outcome.out / f"run-seed{first}.json").read_text())
        log = outcome.out / f"console-seed{first}.log"
        self.last_run = Run(first, rec, log.read_text().splitlines() if log.is_file() else [])
        self.now_s = self.last_run.end_s
        self.outcome = outcome
        return outcome

    # --- results --------------------------------------------------------------------------------------------
    def records(self) -> list[tuple[int | None, RunRecord]]:
        """The run records behind the current results: every seed of the last scenario run, else the last run."""
        if self.outcome is not None:
            out = self.outcome.out
            return [
                (s, RunRecord.model_validate_json((out / f"run-seed{s}.json").read_text()))
                for s in self.outcome.report.seeds
            ]
        if self.last_run is not None:
            return [(self.last_run.seed, self.last_run.record)]
        return []

    def expect_spec(self) -> ExpectSpec:
        from tinyml_cosim.verdicts.spec import ExpectSpec, parse_expect  # lazy: numpy, for verdicts only

        if self._scenario is None:
            return ExpectSpec()
        return parse_expect(self._scenario.get("expect"))

    def timing(self, deadline_ms: float | None = None) -> tuple[TimingReport | None, list[Check]]:
        """The timing section and its checks, as `cosim run` computes them, over the current records (every seed
        of the last scenario run, else the last run); `deadline_ms` replaces the scenario's deadline."""
        recs = self.records()
        if not recs:
            return None, []
        from tinyml_cosim.verdicts.evaluate import timing_section  # lazy: numpy and capstone, for verdicts only

        spec = self.expect_spec()
        if deadline_ms is not None:
            spec.deadline_ms = float(deadline_ms)
        window_s = None
        if self.outcome is not None and self.outcome.report.decisions is not None:
            window_s = self.outcome.report.decisions.alignment.get("window_s") or None
        report, checks, _ = timing_section([SeedRun(s or 0, r) for s, r in recs], self.board, spec, window_s)
        return report, checks

    def stack_used(self) -> int | None:
        from tinyml_cosim.verdicts.evaluate import stack_used_of  # lazy: see timing

        known = [v for v in (stack_used_of(r) for _, r in self.records()) if v is not None]
        return max(known) if known else None

    def memory(self) -> MemoryResult:
        """Flash, RAM and stack of the firmware on this board (tinyml_cosim.verdicts.memory.MemoryResult)."""
        from tinyml_cosim.verdicts.memory import evaluate_memory  # lazy: capstone, for verdicts only

        board = self.board
        policy = self.expect_spec().memory_policy
        return evaluate_memory(load_image(self.elf(), board), board, policy, self.stack_used())

    # --- debugging and life cycle ---------------------------------------------------------------------------
    def start_debug_server(self, port: int | None = None) -> DebugSession:
        """The board halted with a GDB server (tinyml_cosim.run.debug.DebugSession, entered); stopped by `close()`."""
        self.stop_debug_server()
        session = DebugSession(self.elf(), self.board_id, self.engine, port)
        self.debug = session.__enter__()
        return self.debug

    def stop_debug_server(self) -> None:
        if self.debug is not None:
            debug, self.debug = self.debug, None
            debug.__exit__(None, None, None)

    def close(self) -> None:
        """Stop every emulator this board started; safe to call twice."""
        self._stop_live()
        self.stop_debug_server()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> BoardSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
