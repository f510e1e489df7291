"""An interactive board: a scenario (with faults injected on top of its impairments), its firmware, runs for
simulated time, the decisions and resources of the last run. The Robot Framework library (`robot/`) is a thin
layer over this module; everything here goes through the same functions as `cosim run` (`run_scenario`,
`run_seed`, `run_firmware`, `host_config`, `make_record`, the verdict evaluators).

Simulated time moves forward from the moment the board starts: `run_for(2.0)` then `run_for(1.0)` leaves the
board at t = 3 s. With a scenario on QEMU the steps continue one emulator session (`LiveRun`): the firmware's data
requests past the step's end are held, and the firmware waits inside its semihosting call, where no instruction
retires and QEMU's -icount clock stands still, so the next step releases it and the run goes on exactly as one
uninterrupted run (the run `Run Scenario` makes, sliced at the steps' ends). Elsewhere (Renode, or a firmware
without a scenario, which has no data requests to hold) each step replays the run from boot up to the new time:
runs are deterministic, so the replayed part is the run already seen; only wall-clock time is spent.
"""

from __future__ import annotations

import copy
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tinyml_cosim.core.boards import Board, load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.run_limits import default_timeout_s, with_slack
from tinyml_cosim.engines.registry import check_engine, engine_class, engine_problem, resolve_engine_name
from tinyml_cosim.run.record import RunRecord
from tinyml_cosim.verdicts.decisions import Decision, decisions_from_record

DEFAULT_BOARD = "stm32f405"
# Impairment fields that the fault keyword sets itself (the rest are the kind's parameters).
_PLACEMENT = ("type", "start_s", "duration_s")


@dataclass
class Run:
    """One run of the firmware from boot: its record and every console line."""

    record: RunRecord
    console: list[str]
    seed: int | None = None

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


class HeldDataService:
    """The scenario's DataService, except that a request stamped after `limit` instructions waits until the limit
    moves past it (or the gate opens for good). Everything else is the wrapped service's."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.limit = 0
        self.held: int | None = None  # the instruction stamp of the request waiting now
        self._open = False
        self._cv = threading.Condition()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def handle(self, request: Any, max_reply: int | None = None) -> Any:
        with self._cv:
            while request.instructions > self.limit and not self._open:
                self.held = request.instructions
                self._cv.notify_all()
                self._cv.wait()
            self.held = None
        return self.inner.handle(request, max_reply)

    def release_to(self, limit: int) -> None:
        with self._cv:
            self.limit = max(self.limit, limit)
            self._cv.notify_all()

    def open(self) -> None:
        """No more holding (the end of the session)."""
        with self._cv:
            self._open = True
            self._cv.notify_all()

    def held_after(self, limit: int, wait_s: float) -> bool:
        with self._cv:
            if self.held is None or self.held <= limit:
                self._cv.wait(wait_s)
            return self.held is not None and self.held > limit


class LiveRun:
    """One QEMU session of a scenario's firmware, advanced step by step (see the module docstring).

    Started like `run_seed` with `Run Scenario`'s budget (the scenario's duration plus the same slack), so the whole
    session is that run; `step(t)` returns the record of the run up to simulated time t: the events and spans up
    to t, status budget_reached at t, or the run's own end when it ended by then."""

    def __init__(self, scenario: Path, elf: Path, engine: str, seed: int, duration_s: float) -> None:
        from tinyml_cosim.elf.image import load_image
        from tinyml_cosim.engines.registry import create_engine
        from tinyml_cosim.run.session import RunRequest, host_config, resolve_budget
        from tinyml_cosim.scenario import load_scenario
        from tinyml_cosim.scenario.delivery import data_service_for

        scn = load_scenario(scenario)
        self.board = load_board(scn.board)
        self.image = load_image(elf, self.board)
        self.lines: list[str] = []
        self.data = HeldDataService(data_service_for(scn, seed))
        self.request = RunRequest(elf=elf, board=scn.board, engine=engine, duration_s=duration_s, data=self.data,
                                  scenario=scenario, seed=seed)  # fmt: skip
        self.budget = resolve_budget(self.board, self.request)
        self.seed = seed
        self.final: RunRecord | None = None
        self.reached = 0  # instructions: the session has run (at least) this far
        self._started = time.monotonic()
        self.engine = create_engine(engine, self.board)
        try:
            self.engine.console.set_echo(self.lines.append)
            self.engine.start(self.image, host_config(self.engine, self.request, self.budget), data=self.data)
        except BaseException:
            self.close()
            raise

    def step(self, t_s: float, timeout_s: float) -> RunRecord:
        """Run on to simulated time `t_s` (never back) and return the record of the run up to there."""
        target = self.board.instructions(t_s)
        if self.final is None and target > self.reached:
            self.data.release_to(target)
            deadline = time.monotonic() + timeout_s
            while self.engine.is_alive() and not self.data.held_after(target, 0.01):
                if time.monotonic() > deadline:
                    self._finish(timeout_s=0.001)  # the engine's own timeout ending: registers, stacked frame
                    break
            if self.final is None and not self.engine.is_alive():
                self._finish(timeout_s=timeout_s)
            if self.final is None:
                self.reached = target
                settled = self.engine.console_settled
                while not settled() and time.monotonic() < deadline:
                    time.sleep(0.002)
        if self.final is not None and (self.final.instructions or 0) <= target:
            return self.final
        return self._view(min(target, self.reached))

    def _finish(self, timeout_s: float) -> None:
        from tinyml_cosim.engines.base import RunLimits
        from tinyml_cosim.run.session import make_record

        self.data.open()
        limits = RunLimits(
            max_instructions=self.budget, timeout_s=timeout_s, hang_instructions=self.request.hang_instructions
        )
        ending = self.engine.run(limits)
        self.final = make_record(self.engine, self.image, self.board, ending, self.budget,
                                 time.monotonic() - self._started, self.data)  # fmt: skip
        self.reached = self.final.instructions or self.reached

    def _view(self, target: int) -> RunRecord:
        """The run up to `target` instructions, as if its budget had been there: what `cosim run --duration` shows."""
        from dataclasses import asdict

        from tinyml_cosim.engines.base import Ending, EndKind
        from tinyml_cosim.run.diagnosis import classify
        from tinyml_cosim.run.session import make_record

        if self.final is not None:
            record = self.final.model_copy(deep=True)
        else:
            ending = Ending(EndKind.BUDGET, instructions=target, instructions_exact=True)
            record = make_record(self.engine, self.image, self.board, ending, target,
                                 time.monotonic() - self._started, self.data)  # fmt: skip
        events = [e for e in self.engine.console.events if e.instructions <= target]
        verdict = classify(Ending(EndKind.BUDGET, instructions=target, instructions_exact=True), events, self.image,
                           self.board, self.engine.name)  # fmt: skip
        record = record.model_copy(update=asdict(verdict))
        record.events = [e for e in record.events if e.instructions <= target]
        record.spans = [sp for sp in record.spans if sp.end <= target]
        record.simulated_seconds = self.board.seconds(target)
        record.max_instructions = target
        return record

    def console(self, record: RunRecord) -> list[str]:
        """The console lines up to the record's end: plain lines carry no stamp, so the cut is at the first event
        line stamped after it (lines printed between the last event before the end and the end are kept)."""
        if record is self.final:
            return list(self.lines)
        end = record.max_instructions or 0
        for i, line in enumerate(self.lines):
            m = re.match(r"^@C1 ([0-9]+) ", line)
            if m and int(m.group(1)) > end:
                return self.lines[:i]
        return list(self.lines)

    def close(self) -> None:
        self.data.open()
        self.engine.__exit__(None, None, None)


def engine_unavailable_reason(engine: str | None, board: str | None = None) -> str | None:
    """Why `engine` (resolved like `--engine`) cannot run `board` on this machine, or None."""
    error = engine_problem(resolve_engine_name(engine), load_board(board or DEFAULT_BOARD))
    return str(error) if error is not None else None


def _absolute(base: Path, value: str) -> str:
    p = Path(value)
    return value if p.is_absolute() else str((base / p).resolve())


def _path_like(value: str) -> bool:
    return "/" in value or value.endswith((".yaml", ".yml"))


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
        self.outcome = None  # tinyml_cosim.orchestrate.scenario_runs.ScenarioOutcome of the last Run Scenario
        self.debug = None  # tinyml_cosim.run.debug.DebugSession while a GDB server runs
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
        from tinyml_cosim.core.yamlfile import load_yaml
        from tinyml_cosim.scenario import load_scenario

        path = Path(path)
        if not path.is_file():
            raise BadInput(f"{path}: no such scenario file")
        scn = load_scenario(path)  # every problem, with file and line
        data, _ = load_yaml(path)
        base = scn.base_dir
        for key in ("firmware", "model"):
            if data.get(key):
                data[key] = _absolute(base, str(data[key]))
        for sensor in data.get("sensors") or []:
            if isinstance(sensor.get("part"), str) and _path_like(sensor["part"]):
                sensor["part"] = _absolute(base, sensor["part"])
            for src in sensor.get("signal") or []:
                if isinstance(src, dict) and isinstance(src.get("path"), str):
                    src["path"] = _absolute(base, src["path"])
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
        ids = [s.get("id") for s in self._scenario["sensors"]]
        if sensor not in ids:
            raise BadInput(f"no sensor {sensor!r} in scenario {self.scenario_name}; sensors: {', '.join(ids)}")
        clash = [k for k in parameters if k in _PLACEMENT]
        if clash:
            raise BadInput(f"fault parameter {clash[0]!r} is set by the keyword itself (kind, start, duration)")
        fault: dict[str, Any] = {"type": kind, "start_s": float(start_s)}
        if duration_s is not None:
            fault["duration_s"] = float(duration_s)
        fault.update(parameters)
        trial = copy.deepcopy(self._scenario)
        trial["sensors"][ids.index(sensor)].setdefault("impairments", []).append(fault)
        self._validate(trial)
        self._scenario = trial
        self.faults.append({"sensor": sensor, **fault})
        self.reset()
        return fault

    def _effective(self) -> dict[str, Any]:
        assert self._scenario is not None
        data = copy.deepcopy(self._scenario)
        data["board"] = self.board_id
        if self.seed is not None:
            data["seed"] = int(self.seed)
        return data

    def _validate(self, data: dict[str, Any]) -> None:
        from tinyml_cosim.scenario.load import scenario_from_dict

        base = self.scenario_source.parent if self.scenario_source else None
        try:
            scenario_from_dict(data, base)
        except BadInput as exc:
            raise BadInput(str(exc).replace("<dict>", str(self.scenario_source or "scenario"))) from None

    def scenario_file(self) -> Path:
        """The effective scenario (board, seed and injected faults applied) as a file `cosim run` accepts."""
        if self._scenario is None:
            raise BadInput("no scenario loaded")
        data = self._effective()
        self._validate(data)
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
            from tinyml_cosim.build.firmware import build
            from tinyml_cosim.engines.registry import needs_mailbox

            self._elf = build(self.board, self.app, mailbox=needs_mailbox(self.engine)).elf
        elif self._scenario is not None:
            from tinyml_cosim.orchestrate.scenario_runs import _firmware
            from tinyml_cosim.scenario import load_scenario

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

    def run_to(self, t_s: float, timeout_s: float | None = None) -> Run:
        """The run from boot to simulated time `t_s` (or until the firmware ends): continued from the previous step
        where the engine allows it (`resumable`), else run again from boot with a budget of t_s x f_clk."""
        if t_s <= 0:
            raise BadInput(f"simulated time must be positive, got {t_s:g} s")
        elf = self.elf()
        if self.resumable():
            from tinyml_cosim.scenario import load_scenario

            if self._live is None:
                path = self.scenario_file()
                duration = with_slack(load_scenario(path).duration_s)  # Run Scenario's budget
                seed = int(self._effective()["seed"])
                self._live = LiveRun(path, elf, self.engine, seed, duration)
            step_s = max(t_s - self._live.board.seconds(self._live.reached), 0.0)
            timeout = default_timeout_s(step_s, timeout_s)
            record = self._live.step(t_s, timeout)
            run = Run(record, self._live.console(record), self._live.seed)
            self.last_run = run
            self.outcome = None
            self.now_s = t_s if record.status.value == "budget_reached" else min(t_s, run.end_s)
            return run
        timeout = default_timeout_s(t_s, timeout_s)
        if self._scenario is not None:
            from tinyml_cosim.orchestrate.scenario_runs import run_seed

            path = self.scenario_file()
            seed = int(self._effective()["seed"])
            record, lines = run_seed(path, elf, self.engine, seed, t_s, timeout)
            run = Run(record, lines, seed)
        else:
            from tinyml_cosim.run.session import RunRequest, run_firmware

            lines: list[str] = []
            record = run_firmware(
                RunRequest(elf=elf, board=self.board_id, engine=self.engine, duration_s=t_s, timeout_s=timeout,
                           echo=lines.append)
            )  # fmt: skip
            run = Run(record, lines)
        self.last_run = run
        self.outcome = None
        self.now_s = t_s if record.status.value == "budget_reached" else min(t_s, run.end_s)
        return run

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

    def run_scenario(self, seeds: int = 1, out: Path | None = None, echo=None):  # type: ignore[no-untyped-def]
        """`cosim run SCENARIO.yaml --seeds N` on the effective scenario: the report with every verdict."""
        from tinyml_cosim.orchestrate.scenario_runs import ScenarioRunRequest, run_scenario

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
        self.last_run = Run(rec, log.read_text().splitlines() if log.is_file() else [], first)
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

    def expect_spec(self):  # type: ignore[no-untyped-def]
        from tinyml_cosim.verdicts.spec import ExpectSpec, parse_expect

        if self._scenario is None:
            return ExpectSpec()
        return parse_expect(self._scenario.get("expect"))

    def timing(self, deadline_ms: float | None = None):  # type: ignore[no-untyped-def]
        """The timing section and its checks, as `cosim run` computes them, over the current records (every seed
        of the last scenario run, else the last run); `deadline_ms` replaces the scenario's deadline."""
        recs = self.records()
        if not recs:
            return None, []
        from tinyml_cosim.verdicts.evaluate import SeedRun, timing_section

        spec = self.expect_spec()
        if deadline_ms is not None:
            spec.deadline_ms = float(deadline_ms)
        window_s = None
        if self.outcome is not None and self.outcome.report.decisions is not None:
            window_s = self.outcome.report.decisions.alignment.get("window_s") or None
        report, checks, _ = timing_section([SeedRun(s or 0, r) for s, r in recs], self.board, spec, window_s)
        return report, checks

    def stack_used(self) -> int | None:
        from tinyml_cosim.verdicts.evaluate import stack_used_of

        known = [v for v in (stack_used_of(r) for _, r in self.records()) if v is not None]
        return max(known) if known else None

    def memory(self):  # type: ignore[no-untyped-def]
        """Flash, RAM and stack of the firmware on this board (tinyml_cosim.verdicts.memory.MemoryResult)."""
        from tinyml_cosim.elf.image import load_image
        from tinyml_cosim.verdicts.memory import evaluate_memory

        board = self.board
        policy = self.expect_spec().memory_policy
        return evaluate_memory(load_image(self.elf(), board), board, policy, self.stack_used())

    # --- debugging and life cycle ---------------------------------------------------------------------------
    def start_debug_server(self, port: int | None = None):  # type: ignore[no-untyped-def]
        """The board halted with a GDB server (tinyml_cosim.run.debug.DebugSession, entered); stopped by `close()`."""
        from tinyml_cosim.run.debug import DebugSession

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
