"""pytest plugin for tinyml-cosim (entry point ``pytest11``: active wherever the package is installed).

For teams that test with pytest rather than Robot Framework; modelled on pytest-embedded (an app is the binary, a
DUT gives its I/O): the `board` fixture is a `tinyml_cosim.orchestrate.board_session.BoardSession`, the same
object the Robot library drives, so a test gets the same runs and verdicts as ``cosim run``.

    def test_detects_shaking(board):
        board.load_scenario("robot_tests/scenarios/shake.yaml")
        assert board.wait_for_decision("shaking", within_s=3.0).decision is not None

Options: ``--cosim-board`` (default: the scenario's board, else stm32f405), ``--cosim-engine`` (default: what
``cosim run`` would use: $COSIM_ENGINE, ``engine:`` in ./cosim.yaml, qemu), ``--cosim-artifacts DIR`` (default:
each test's tmp_path). ``@pytest.mark.cosim(board=..., engine=..., app=..., firmware=...)`` overrides per test. A
test whose engine cannot run its board here is skipped with the reason; a failed test keeps the board's full
console, run record and engine log in its artefact directory (tinyml_cosim.results.artefacts). See docs/pytest.md.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tinyml_cosim.core.errors import CosimError
from tinyml_cosim.orchestrate.board_session import BoardSession, engine_unavailable_reason
from tinyml_cosim.results.artefacts import keep_board_failure_artefacts

MARKER = "cosim"
_BOARD_KEY = pytest.StashKey["CosimBoard"]()


class CosimBoard(BoardSession):
    """What the `board` fixture gives: a BoardSession whose outputs (effective scenario, scenario reports) go to the
    test's artefact directory, which can also load firmware after it was created (`load_elf`, `load_app`)."""

    def load_elf(self, elf: Path | str) -> None:
        """Run this ELF from now on (with the loaded scenario's sensors, if any); simulated time goes back to 0."""
        path = Path(elf)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such firmware ELF")
        self._use(app=None, firmware=path.resolve())

    def load_app(self, app: str) -> None:
        """Run a built-in application (built for the board on demand) from now on; simulated time goes back to 0."""
        self._use(app=app, firmware=None)

    def _use(self, app: str | None, firmware: Path | None) -> None:
        self.app, self.firmware = app, firmware
        self._elf = None  # BoardSession caches the resolved ELF
        self.reset()

    @property
    def console(self) -> list[str]:
        """Every console line of the last run, from boot."""
        return list(self.last_run.console) if self.last_run is not None else []

    def expect(self, pattern: str) -> re.Match[str]:
        """The first console line of the last run matching the regular expression `pattern` (pytest-embedded's
        `dut.expect`, on a finished run); AssertionError with the console's end when none does."""
        regex = re.compile(pattern)
        for line in self.console:
            m = regex.search(line)
            if m:
                return m
        tail = "\n".join(self.console[-10:]) or "(no console output: the board has not run)"
        raise AssertionError(f"no console line matches {pattern!r}; the console ended with:\n{tail}")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cosim", "tinyml-cosim boards (the `board` fixture)")
    group.addoption(
        "--cosim-board", default=None, help="board id or board YAML (default: the scenario's, else stm32f405)"
    )
    group.addoption(
        "--cosim-engine",
        default=None,
        help="qemu or renode (default: $COSIM_ENGINE, engine: in ./cosim.yaml, else qemu; as `cosim run`)",
    )
    group.addoption(
        "--cosim-artifacts",
        default=None,
        metavar="DIR",
        help="per-test artefact directories under DIR (default: each test's tmp_path)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(board=None, engine=None, app=None, firmware=None): the board, engine and firmware of the `board` "
        "fixture for this test (beats --cosim-board/--cosim-engine)",
    )


def _setting(request: pytest.FixtureRequest, name: str) -> str | None:
    """The marker's keyword beats the command-line option."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        unknown = set(marker.kwargs) - {"board", "engine", "app", "firmware"}
        if unknown or marker.args:
            raise pytest.UsageError(f"@pytest.mark.cosim takes board=, engine=, app=, firmware= only, got {marker}")
        if marker.kwargs.get(name) is not None:
            return str(marker.kwargs[name])
    return request.config.getoption(f"--cosim-{name}") if name in ("board", "engine") else None


@pytest.fixture
def cosim_artifacts(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """This test's artefact directory: `--cosim-artifacts DIR`/<test id>, else its tmp_path. The board's outputs
    go here, and on failure console.log, run.json and engine.log."""
    root = request.config.getoption("--cosim-artifacts")
    if root is None:
        return tmp_path
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid).strip("_")[:120] or "test"
    path = Path(root) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def board(request: pytest.FixtureRequest, cosim_artifacts: Path) -> Iterator[CosimBoard]:
    """A board on an engine for this test (see the module docstring); stopped at teardown with every emulator it
    started, whatever the test did. Skipped with the reason when the engine cannot run the board here."""
    name, engine = _setting(request, "board"), _setting(request, "engine")
    app, firmware = _setting(request, "app"), _setting(request, "firmware")
    try:  # the session first: it refuses an unknown engine name, which is a mistake to report, not to skip
        session = CosimBoard(board=name, engine=engine, app=app, firmware=Path(firmware) if firmware else None,
                             workdir=cosim_artifacts)  # fmt: skip
        reason = engine_unavailable_reason(session.engine, name)
    except CosimError as exc:  # a wrong board or engine name: one line, not a traceback into the library
        problem: str | None = f"cosim: {exc}"
    else:
        problem = None
    if problem is not None:  # outside the except: no "during handling of the above exception" in the report
        pytest.fail(problem, pytrace=False)
    if reason:
        session.close()
        pytest.skip(f"{reason} (board and engine from @pytest.mark.cosim or --cosim-board/--cosim-engine)")
    request.node.stash[_BOARD_KEY] = session
    try:
        yield session
    finally:
        session.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test: the board is still open here (fixtures are torn down later), so its last run's console,
    record and the live engine's log can be kept; the report names the directory."""
    report = yield
    session = item.stash.get(_BOARD_KEY, None)
    if session is not None and report.when == "call" and report.failed:
        try:
            written = keep_board_failure_artefacts(session, session.workdir)
        except Exception as exc:  # never hide the test's own failure behind this one
            report.sections.append(("cosim failure artefacts", f"not written: {type(exc).__name__}: {exc}"))
        else:
            if written:
                names = ", ".join(p.name for p in written)
                report.sections.append(("cosim failure artefacts", f"{names} in {session.workdir}"))
    return report
