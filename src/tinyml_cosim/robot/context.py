"""State shared by the keyword components: configuration (board, engine, output), the open board, variables."""

from __future__ import annotations

import re
from pathlib import Path

from robot.libraries.BuiltIn import BuiltIn, RobotNotRunningError

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.orchestrate.board_session import BoardSession, Run

SCOPES = ("test", "suite")


def _builtin():
    try:
        return BuiltIn() if BuiltIn().robot_running else None
    except RobotNotRunningError:
        return None


def variable(name: str) -> str | None:
    """${NAME} when Robot is running and it is set (e.g. `--variable ENGINE:renode`), else None."""
    bi = _builtin()
    if bi is None:
        return None
    value = bi.get_variable_value("${" + name + "}")
    return str(value) if value not in (None, "") else None


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:80] or "run"


class Context:
    def __init__(self, board: str | None, engine: str | None, scope: str, output_dir: str | None, jobs: int) -> None:
        if scope not in SCOPES:
            raise BadInput(f"scope={scope!r}: use test (a board per test, the default) or suite (one per suite)")
        self.board_arg = board
        self.engine_arg = engine
        self.scope = scope
        self.output_dir = Path(output_dir) if output_dir else None
        self.jobs = int(jobs)
        self.session: BoardSession | None = None
        self._outputs = 0
        self.failure_dirs: set[Path] = set()  # failure artefacts written during the current test
        # `Write To UART`: (console lines seen before it, bytes), replayed in every later run of the board; and
        # the console line after which the next `Wait For Console Line` looks.
        self.uart_input: list[tuple[int, bytes]] = []
        self.console_cursor = 0

    # --- configuration ---
    @property
    def board_name(self) -> str | None:
        return variable("BOARD") or self.board_arg

    @property
    def engine_name(self) -> str | None:
        return variable("ENGINE") or self.engine_arg

    def out_dir(self, what: str) -> Path:
        """A fresh directory under ${OUTPUT DIR}/cosim for one report of the current test."""
        root = self.output_dir
        bi = _builtin()
        if root is None:
            root = Path(bi.get_variable_value("${OUTPUT DIR}")) / "cosim" if bi else Path("out") / "cosim"
        test = (bi.get_variable_value("${TEST NAME}") or bi.get_variable_value("${SUITE NAME}")) if bi else None
        self._outputs += 1
        return root / slug(test or "session") / f"{what}-{self._outputs}"

    # --- the board ---
    def open(self, app: str | None = None, firmware: str | None = None) -> BoardSession:
        self.close()
        session = BoardSession(
            board=self.board_name, engine=self.engine_name, app=app, firmware=Path(firmware) if firmware else None,
            jobs=self.jobs,
        )  # fmt: skip
        try:
            session.check_available()
        except BaseException:
            session.close()
            raise
        self.session = session
        return session

    @property
    def board(self) -> BoardSession:
        if self.session is None:
            raise BadInput("no board: use Start Board first (in Test Setup, or Suite Setup with scope=suite)")
        return self.session

    def run(self) -> Run:
        run = self.board.last_run
        if run is None:
            raise BadInput("the board has not run yet: use Run Scenario, Run For Simulated Time or Wait For Decision")
        return run

    def describe(self) -> str:
        s = self.board
        what = s.scenario_name if s.scenario_source else (s.app or (s.firmware.name if s.firmware else "firmware"))
        return f"{what} on {s.board_id}/{s.engine}"

    def close(self) -> None:
        session, self.session = self.session, None
        self.uart_input, self.console_cursor = [], 0
        if session is not None:
            session.close()
