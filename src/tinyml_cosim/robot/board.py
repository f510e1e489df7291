"""Board keywords: start and stop the board, run it for simulated time, skip where the engine is missing."""

from __future__ import annotations

from pathlib import Path

from robot.api import logger
from robot.api.deco import keyword
from robot.libraries.BuiltIn import BuiltIn

from tinyml_cosim.orchestrate.board_session import engine_unavailable_reason
from tinyml_cosim.robot.context import Context, variable
from tinyml_cosim.robot.failures import keep_test_failure
from tinyml_cosim.robot.messages import instant, tinyml_cosim_time


class BoardKeywords:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @keyword(tags=["board"])
    def start_board(self, app: str | None = None, firmware: str | None = None) -> str:
        """Starts a board: the board and engine come from ``${BOARD}`` / ``${ENGINE}`` (``--variable
        ENGINE:renode``), else the library arguments, else the scenario's board and ``cosim run``'s engine choice
        ($COSIM_ENGINE, ./cosim.yaml, qemu).

        ``app`` (a built-in application, built on demand) or ``firmware`` (an ELF path) give the firmware; without
        them the loaded scenario's firmware runs. Fails when the engine is not installed (use `Skip If Engine
        Unavailable` in the suite setup to skip instead). Returns ``board/engine``.

        With the default ``scope=test`` the board is stopped at the end of every test, whatever happens; with
        ``scope=suite`` at the end of the suite.

        When a test fails, the board's full console (``console.log``), the run record (``run.json``) and the
        engine's own log (``engine.log``, when it has one) of the last run go to
        ``${OUTPUT DIR}/cosim-failures/<suite>/<test>/``, linked from the log.

        | Start Board |
        | Start Board | app=threshold_detector |
        """
        s = self.ctx.open(app, firmware)
        logger.info(f"board {s.board_id} on {s.engine} (scope {self.ctx.scope})")
        return f"{s.board_id}/{s.engine}"

    @keyword(tags=["board"])
    def stop_board(self) -> None:
        """Stops the board and every emulator it started (a GDB server too). Safe to call twice, and called
        automatically at the end of each test (``scope=test``) or suite (``scope=suite``). In a failed test's
        teardown it first keeps the failure artefacts (see `Start Board`) when no failing keyword did."""
        keep_test_failure(self.ctx, variable("TEST STATUS"), "test")
        self.ctx.close()

    @keyword(tags=["board"])
    def firmware_path(self) -> str:
        """Returns the absolute path of the ELF the board runs: its ``app`` (built for the board on demand), its
        ``firmware``, else the loaded scenario's firmware. For other tools in the same suite, e.g. Renode's own
        keywords under ``renode-test`` (``Execute Command    sysbus LoadELF @${elf}``, see docs/robot.md).

        | Load Scenario | ${CURDIR}/scenarios/shake.yaml |
        | ${elf}= | Firmware Path |
        """
        return str(Path(self.ctx.board.elf()).resolve())

    @keyword(tags=["board"])
    def skip_if_engine_unavailable(self) -> None:
        """Skips the current test (in a suite setup: the whole suite) with the reason when the configured engine
        cannot run the configured board here, e.g. ``renode`` not on PATH with ``--variable ENGINE:renode``."""
        reason = engine_unavailable_reason(self.ctx.engine_name, self.ctx.board_name)
        if reason:
            BuiltIn().skip(f"{reason} (engine and board from ${{ENGINE}}/${{BOARD}} or the library arguments)")

    @keyword(tags=["board"])
    def run_for_simulated_time(self, time: str) -> float:
        """Lets the firmware run for ``time`` of simulated time (Robot time format: ``2 s``, ``500 ms``; a number
        alone is seconds) with the scenario's sensors, from the current simulated time. Returns the simulated
        time reached, in seconds.

        Fails when the firmware faults, locks up, hangs or exits with a non-zero code. A firmware that ends
        before the time (the end of its sensor data) stops the clock there. With a scenario on QEMU the steps
        continue one emulator session, instruction for instruction the run `Run Scenario` makes; elsewhere each
        step runs again from boot to the new time (runs are deterministic), see docs/robot.md.

        | Run For Simulated Time | 2 s |
        """
        board = self.ctx.board
        since = board.now_s
        step = tinyml_cosim_time(time)
        run = board.run_for(step)
        rec = run.record
        logger.info(f"{self.ctx.describe()}: from {since:.3f} s to {board.now_s:.3f} s simulated: {rec.diagnosis}")
        if not rec.succeeded:
            tail = "\n".join(rec.console_tail[-5:])
            raise AssertionError(
                f"Run on {self.ctx.describe()} ended with status {rec.status.value} at "
                f"{instant(rec.instructions, run.end_s)}, expected to run from {since:.3f} s to {since + step:.3f} s: "
                f"{rec.diagnosis}\n{tail}"
            )
        return board.now_s
