"""An interactive board: a scenario (with faults injected on top of its impairments), its firmware, runs for
simulated time, the decisions and resources of the last run. The Robot Framework library (`sim.robot`) is a thin
layer over this module; everything here goes through the same functions as `cosim run` (`run_scenario`,
`run_seed`, `run_firmware`, the verdict evaluators).

Simulated time moves forward from the moment the board starts: `run_for(2.0)` then `run_for(1.0)` leaves the
board at t = 3 s. The engines run a firmware from boot to a budget (`Engine.run(RunLimits(max_instructions=…))`
ends the run), so each step replays the run from boot up to the new time. A run is deterministic (same ELF, same
scenario, same seed: same instructions, same bytes), so the replayed first part is the run already seen; the cost
is wall-clock time only. An engine method that resumes a stopped CPU would make the steps incremental.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sim.boards import Board, load_board
from sim.engines import board_support_problem, engine_class, resolve_engine_name
from sim.errors import BadInput
from sim.record import RunRecord
from sim.verdicts.decisions import Decision, decisions_from_record

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


def engine_unavailable_reason(engine: str | None, board: str | None = None) -> str | None:
    """Why `engine` (resolved like `--engine`) cannot run `board` on this machine, or None."""
    name = resolve_engine_name(engine)
    b = load_board(board or DEFAULT_BOARD)
    problem = board_support_problem(name, b)
    if problem:
        return problem
    reason = engine_class(name).unavailable_reason(b)
    return f"engine {name} cannot run board {b.id}: {reason}" if reason else None


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
        self.outcome = None  # sim.scenario_run.ScenarioOutcome of the last Run Scenario
        self.debug = None  # sim.debug.DebugSession while a GDB server runs
        self._elf: Path | None = None
        self._runs = 0

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
        from sim.errors import EngineUnavailable

        problem = board_support_problem(self.engine, self.board)
        if problem:
            raise BadInput(problem)
        reason = engine_class(self.engine).unavailable_reason(self.board)
        if reason:
            raise EngineUnavailable(f"engine {self.engine} cannot run board {self.board_id}: {reason}")

    @property
    def scenario_name(self) -> str:
        if self._scenario is None:
            return "(no scenario)"
        return str(self._scenario.get("name") or (self.scenario_source.stem if self.scenario_source else "scenario"))

    def load_scenario(self, path: Path, seed: int | None = None) -> None:
        """Load and validate a scenario file; faults injected before are dropped, simulated time goes back to 0."""
        from sim.scenario import load_scenario
        from sim.yamlfile import load_yaml

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
        from sim.scenario.load import scenario_from_dict

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
            from sim.build import build

            self._elf = build(self.board, self.app).elf
        elif self._scenario is not None:
            from sim.scenario import load_scenario
            from sim.scenario_run import _firmware

            self._elf = _firmware(load_scenario(self.scenario_file()), self.board)
        else:
            raise BadInput("no firmware: start the board with an app or a firmware ELF, or load a scenario")
        return self._elf

    # --- running --------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to t = 0 (the next run starts from boot); results of earlier runs are forgotten."""
        self.now_s = 0.0
        self.last_run = None
        self.outcome = None

    def run_to(self, t_s: float, timeout_s: float | None = None) -> Run:
        """Run from boot to simulated time `t_s` (or until the firmware ends): a budget of t_s x f_clk."""
        if t_s <= 0:
            raise BadInput(f"simulated time must be positive, got {t_s:g} s")
        elf = self.elf()
        timeout = timeout_s if timeout_s is not None else 60.0 + 20.0 * t_s
        if self._scenario is not None:
            from sim.scenario_run import run_seed

            path = self.scenario_file()
            seed = int(self._effective()["seed"])
            record, lines = run_seed(path, elf, self.engine, seed, t_s, timeout)
            run = Run(record, lines, seed)
        else:
            from sim.session import RunRequest, run_firmware

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
        """Advance simulated time by `duration_s` (replaying from boot, see the module docstring)."""
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
        from sim.scenario_run import ScenarioRunRequest, run_scenario

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
        from sim.verdicts.spec import ExpectSpec, parse_expect

        if self._scenario is None:
            return ExpectSpec()
        return parse_expect(self._scenario.get("expect"))

    def timing(self, deadline_ms: float | None = None):  # type: ignore[no-untyped-def]
        """The timing section and its checks, as `cosim run` computes them, over the current records (every seed
        of the last scenario run, else the last run); `deadline_ms` replaces the scenario's deadline."""
        recs = self.records()
        if not recs:
            return None, []
        from sim.verdicts.evaluate import SeedRun, timing_section

        spec = self.expect_spec()
        if deadline_ms is not None:
            spec.deadline_ms = float(deadline_ms)
        window_s = None
        if self.outcome is not None and self.outcome.report.decisions is not None:
            window_s = self.outcome.report.decisions.alignment.get("window_s") or None
        report, checks, _ = timing_section([SeedRun(s or 0, r) for s, r in recs], self.board, spec, window_s)
        return report, checks

    def stack_used(self) -> int | None:
        from sim.verdicts.evaluate import stack_used_of

        known = [v for v in (stack_used_of(r) for _, r in self.records()) if v is not None]
        return max(known) if known else None

    def memory(self):  # type: ignore[no-untyped-def]
        """Flash, RAM and stack of the firmware on this board (sim.verdicts.memory.MemoryResult)."""
        from sim.firmware_image import load_image
        from sim.verdicts.memory import evaluate_memory

        board = self.board
        policy = self.expect_spec().memory_policy
        return evaluate_memory(load_image(self.elf(), board), board, policy, self.stack_used())

    # --- debugging and life cycle ---------------------------------------------------------------------------
    def start_debug_server(self, port: int | None = None):  # type: ignore[no-untyped-def]
        """The board halted with a GDB server (sim.debug.DebugSession, entered); stopped by `close()`."""
        from sim.debug import DebugSession

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
        self.stop_debug_server()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> BoardSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
