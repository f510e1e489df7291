"""One QEMU session of a scenario's firmware, advanced step by step (`BoardSession.run_to` on an engine that
`supports_live_steps`): the firmware's data requests past the step's end are held, and the firmware waits inside its
semihosting call, where no instruction retires and QEMU's -icount clock stands still, so the next step releases it
and the run goes on exactly as one uninterrupted run (the run `Run Scenario` makes, sliced at the steps' ends)."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any, cast

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines.base import Ending, EndKind, RunLimits
from tinyml_cosim.engines.registry import create_engine
from tinyml_cosim.protocol.datachannel import DataService
from tinyml_cosim.run.diagnosis import classify
from tinyml_cosim.run.record import RunRecord
from tinyml_cosim.run.session import RunRequest, engine_log_text, host_config, make_record, resolve_budget
from tinyml_cosim.scenario import load_scenario
from tinyml_cosim.scenario.delivery import data_service_for


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
        scn = load_scenario(scenario)
        self.board = load_board(scn.board)
        self.image = load_image(elf, self.board)
        self.lines: list[str] = []
        self.data = HeldDataService(data_service_for(scn, seed))
        service = cast(DataService, self.data)  # a proxy of DataService's interface (the rest via __getattr__)
        self.request = RunRequest(elf=elf, board=scn.board, engine=engine, duration_s=duration_s, data=service,
                                  scenario=scenario, seed=seed)  # fmt: skip
        self.budget = resolve_budget(self.board, self.request)
        self.seed = seed
        self.final: RunRecord | None = None
        self.reached = 0  # instructions: the session has run (at least) this far
        self._started = time.monotonic()
        self.engine = create_engine(engine, self.board)
        try:
            self.engine.console.set_echo(self.lines.append)
            self.engine.start(self.image, host_config(self.engine, self.request, self.budget), data=service)
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
                if self.engine.halted_by_fault():  # foreign firmware stopped at its fault handler's entry
                    self._finish(timeout_s=timeout_s)
                    break
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
        self.data.open()
        limits = RunLimits(
            max_instructions=self.budget,
            timeout_s=timeout_s,
            hang_instructions=self.request.hang_instructions,
            hang_wall_s=self.request.hang_seconds,
        )
        ending = self.engine.run(limits)
        self.final = make_record(self.engine, self.image, self.board, ending, self.budget,
                                 time.monotonic() - self._started, self.data)  # fmt: skip
        self.reached = self.final.instructions or self.reached

    def _view(self, target: int) -> RunRecord:
        """The run up to `target` instructions, as if its budget had been there: what `cosim run --duration` shows."""
        if self.final is not None:
            record = self.final.model_copy(deep=True)
        else:
            ending = Ending(EndKind.BUDGET, instructions=target, instructions_exact=True)
            record = make_record(self.engine, self.image, self.board, ending, target,
                                 time.monotonic() - self._started, self.data)  # fmt: skip
        events = [e for e in self.engine.console.events if e.instructions <= target]
        verdict = classify(Ending(EndKind.BUDGET, instructions=target, instructions_exact=True), events, self.image,
                           self.board, self.engine.name)  # fmt: skip
        record = record.model_copy(update=verdict.model_dump())
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

    def engine_log(self) -> str | None:
        """The engine's log as it is now (the emulator is still running)."""
        return engine_log_text(self.engine)

    def close(self) -> None:
        self.data.open()
        self.engine.__exit__(None, None, None)
