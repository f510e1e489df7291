"""Robot Framework library for tinyml-cosim: ``Library    tinyml_cosim.robot``.

A thin keyword layer over the Python API (`tinyml_cosim.orchestrate.board_session`,
`tinyml_cosim.orchestrate.scenario_runs`, `tinyml_cosim.verdicts`): the same runs and verdicts as ``cosim run``.
One component class per domain (board, scenario and sensors, decisions, budgets, debug, plain firmware ELFs),
combined with robotframework-pythonlibcore's DynamicCore. A failed keyword or test keeps the board's console, run
record and engine log under ``${OUTPUT DIR}/cosim-failures/`` (`tinyml_cosim.robot.failures`).
"""

from __future__ import annotations

from robotlibcore import DynamicCore

import tinyml_cosim
from tinyml_cosim.core.errors import CosimError
from tinyml_cosim.robot.board import BoardKeywords
from tinyml_cosim.robot.budgets import BudgetKeywords
from tinyml_cosim.robot.context import Context
from tinyml_cosim.robot.debug import DebugKeywords
from tinyml_cosim.robot.decisions import DecisionKeywords
from tinyml_cosim.robot.failures import forget_failures, keep_keyword_failure, keep_test_failure
from tinyml_cosim.robot.firmware import FirmwareKeywords
from tinyml_cosim.robot.scenario import ScenarioKeywords

__version__ = tinyml_cosim.__version__


class CosimKeywordError(RuntimeError):
    """A cosim error (bad input, engine missing or failed) shown to Robot as its own one-line message."""

    ROBOT_SUPPRESS_NAME = True


class SimLibrary(DynamicCore):
    """Co-simulation of int8 ML firmware on emulated STM32 boards, for Robot Framework suites.

    Firmware runs in an emulated board (QEMU, or Renode where installed); the scenario's virtual sensors feed
    it; keywords check what it decides, how long each inference takes and whether flash, RAM and stack fit.

    = Board and engine =

    Never written in suite text: ``--variable BOARD:stm32f405`` and ``--variable ENGINE:renode`` on the command
    line win, then the library arguments ``board=`` and ``engine=``, then the scenario's board and the engine
    ``cosim run`` would use ($COSIM_ENGINE, ``engine:`` in ./cosim.yaml, qemu).

    = Life cycle =

    With ``scope=test`` (the default) each test gets its own board, stopped at the end of the test whether it
    passes, fails or is interrupted; ``scope=suite`` shares one board (started in Suite Setup) across the suite,
    stopped at its end. No emulator outlives the Robot process, also on Ctrl-C.

    = Simulated time =

    Times are simulated seconds (t = instructions / f_clk), written in Robot's time format (``2 s``,
    ``500 ms``). Every failure message states actual vs expected and the simulated time it refers to.
    Successive `Run For Simulated Time` and `Wait For Decision` steps continue the same run (with a scenario on
    QEMU, one emulator session held between steps; elsewhere replayed from boot, with the same result).

    = Example =

    | *** Settings ***
    | Library           tinyml_cosim.robot
    | Test Setup        Start Board
    |
    | *** Test Cases ***
    | Detects Shaking
    |     Load Scenario    ${CURDIR}/scenarios/shake.yaml
    |     Wait For Decision    shaking    within=3 s
    |     Run Scenario
    |     Accuracy Should Be At Least    0.9
    |     Worst Case Inference Should Be Within    1 ms
    """

    ROBOT_LIBRARY_SCOPE = "SUITE"
    ROBOT_LIBRARY_VERSION = __version__
    ROBOT_LIBRARY_DOC_FORMAT = "ROBOT"
    ROBOT_LISTENER_API_VERSION = 3

    def __init__(
        self,
        board: str | None = None,
        engine: str | None = None,
        scope: str = "test",
        output_dir: str | None = None,
        jobs: int = 1,
    ) -> None:
        """``board`` and ``engine``: defaults when ``${BOARD}`` / ``${ENGINE}`` are not set. ``scope``: ``test``
        (a board per test, the default) or ``suite`` (one shared board per suite). ``output_dir``: where scenario
        reports go (default ``${OUTPUT DIR}/cosim``). ``jobs``: seeds run in parallel by `Run Scenario` (default
        1: pabot already runs suites in parallel)."""
        self.ctx = Context(board, engine, scope.lower(), output_dir, jobs)
        self.ROBOT_LIBRARY_LISTENER = self
        super().__init__(
            [
                BoardKeywords(self.ctx),
                ScenarioKeywords(self.ctx),
                DecisionKeywords(self.ctx),
                BudgetKeywords(self.ctx),
                DebugKeywords(self.ctx),
                FirmwareKeywords(self.ctx),
            ]
        )

    def run_keyword(self, name, args, kwargs=None):
        try:
            return super().run_keyword(name, args, kwargs)
        except CosimError as exc:
            keep_keyword_failure(self.ctx, name)
            raise CosimKeywordError(str(exc)) from None
        except Exception as exc:
            if not getattr(exc, "ROBOT_SKIP_EXECUTION", False):  # a skip is not a failure
                keep_keyword_failure(self.ctx, name)
            raise

    # --- listener (v3): the board never outlives its test (scope=test) or suite ---
    def start_test(self, data, result) -> None:
        self.ctx.failure_dirs.clear()

    def end_test(self, data, result) -> None:
        if result.passed:
            forget_failures(self.ctx)  # its failures were expected (Run Keyword And Expect Error)
        else:
            keep_test_failure(self.ctx, result.status, f"test {result.name!r}")
        if self.ctx.scope == "test":
            self.ctx.close()

    def end_suite(self, data, result) -> None:
        self.ctx.close()

    def close(self) -> None:
        self.ctx.close()


robot = SimLibrary  # `Library    tinyml_cosim.robot` takes the class named like the module

__all__ = ["SimLibrary", "robot"]
