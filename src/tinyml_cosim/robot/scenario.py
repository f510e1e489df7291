"""Sensor and scenario keywords: load a scenario, inject faults into its impairment chains, run it with verdicts."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import yaml
from robot.api import logger
from robot.api.deco import keyword

from tinyml_cosim.orchestrate.scenario_runs import summary_lines
from tinyml_cosim.robot.context import Context, _builtin
from tinyml_cosim.robot.messages import tinyml_cosim_time


def _value(text: Any) -> Any:
    """A fault parameter as YAML reads it in a scenario file: 0.5 -> float, [x, y] -> list, zero -> 'zero'."""
    if not isinstance(text, str):
        return text
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


class ScenarioKeywords:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _path(self, path: str) -> Path:
        p = Path(path)
        if p.is_absolute() or p.exists():
            return p
        bi = _builtin()
        source = bi.get_variable_value("${SUITE SOURCE}") if bi else None
        if source:
            near = Path(source).parent / p
            if near.exists():
                return near
        return p

    @keyword(tags=["scenario"])
    def load_scenario(self, path: str, seed: int | None = None) -> str:
        """Loads a scenario file (docs/sensors.md) onto the board: its sensors, timeline and ``expect:`` block.
        Relative paths resolve against the working directory, then the suite's directory. ``seed`` replaces the
        scenario's root seed. Simulated time goes back to 0 and earlier injected faults are dropped.

        The board of the scenario is used unless ``${BOARD}`` or the library's ``board`` says otherwise.
        Returns the scenario's name.

        | Load Scenario | ${CURDIR}/scenarios/shake.yaml |
        | Load Scenario | scenarios/shake.yaml | seed=12 |
        """
        board = self.ctx.board
        board.load_scenario(self._path(path), seed)
        logger.info(f"scenario {board.scenario_name} ({board.scenario_source}) on {board.board_id}/{board.engine}")
        return board.scenario_name

    @keyword(tags=["scenario", "sensors"])
    def inject_fault(
        self, kind: str, sensor: str, start: str = "0 s", duration: str | None = None, **parameters: Any
    ) -> None:
        """Adds a fault to the impairment chain of ``sensor`` in the loaded scenario, before the next run.

        ``kind`` is any impairment type of docs/sensors.md (``stuck_at``, ``disconnect``, ``bit_flip``,
        ``dropout``, ``spikes``, ``offset_drift``, ``clipping``, …); ``start`` and ``duration`` are simulated
        times (``2 s``, ``500 ms``; no duration: to the end); the named ``parameters`` are the type's own, written
        as in a scenario file (``reads=full_scale``, ``probability=0.01``, ``channels=[x, y]``). The fault is
        validated like a scenario file: an unknown kind or parameter fails here, naming what is allowed.

        | Inject Fault | stuck_at | accel | start=2 s | duration=2 s |
        | Inject Fault | dropout | accel | 1 s | 500 ms | rate=0.5 | mode=hold |
        """
        values = {k: _value(v) for k, v in parameters.items()}
        dur = tinyml_cosim_time(duration, "duration") if duration not in (None, "", "None") else None
        fault = self.ctx.board.inject_fault(kind, sensor, tinyml_cosim_time(start, "start", zero_ok=True), dur, values)
        logger.info(f"fault on {sensor}: {fault}")

    @keyword(tags=["scenario"])
    def run_scenario(self, seeds: int = 1) -> str:
        """Runs the loaded scenario from boot over its whole duration, once per seed, exactly as ``cosim run
        SCENARIO.yaml --seeds N`` does, and writes its report (report.html, report.json, junit.xml, the
        effective scenario) under ``${OUTPUT DIR}/cosim/<test>/``. Returns the verdict, ``pass`` or ``fail``;
        it does not fail by itself: check with `Scenario Should Pass` or the metric keywords.
        """
        board = self.ctx.board
        out = self.ctx.out_dir("scenario")
        outcome = board.run_scenario(int(seeds), out, echo=logger.info)
        (out / "scenario.yaml").write_text(board.scenario_file().read_text())
        for line in summary_lines(outcome):
            logger.info(line)
        logger.info(f"reproduce with: cosim run {out / 'scenario.yaml'} --engine {board.engine} --seeds {seeds}")
        self._link(out / "report.html")
        return outcome.report.verdict

    @staticmethod
    def _link(page: Path) -> None:
        """A link to the scenario report in Robot's log, relative to the log so the output directory can move."""
        bi = _builtin()
        log_dir = bi.get_variable_value("${OUTPUT DIR}") if bi else None
        href = os.path.relpath(page, log_dir) if log_dir else str(page)
        logger.info(f'scenario report: <a href="{html.escape(href)}">{html.escape(str(page))}</a>', html=True)

    @keyword(tags=["scenario"])
    def scenario_should_pass(self) -> None:
        """Fails with every failing expectation of the last `Run Scenario` (its ``expect:`` block), one a line."""
        board = self.ctx.board
        if board.outcome is None:
            raise AssertionError("no scenario run to check: use Run Scenario first")
        failed = [c.message for c in board.outcome.report.checks if c.failed]
        if failed:
            raise AssertionError(
                f"Scenario {board.scenario_name} on {board.board_id}/{board.engine} fails {len(failed)} "
                f"expectation(s) ({board.outcome.out}/report.html):\n" + "\n".join(failed)
            )
