"""The Robot Framework library `tinyml_cosim.robot` without an emulator: keywords and their documentation, libdoc,
argument parsing, the failure messages, and the Python API under it (tinyml_cosim.orchestrate.board_session) up to
the point where a run starts; and, on QEMU, the failure artefacts a failed keyword or test keeps."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import yaml
from cosim_testing import needs_qemu

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.orchestrate.board_session import BoardSession, engine_unavailable_reason
from tinyml_cosim.robot import CosimKeywordError, SimLibrary, robot
from tinyml_cosim.robot.messages import (
    memory_message,
    parse_fraction,
    parse_size,
    tinyml_cosim_time,
    worst_case_message,
)

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "robot_tests" / "scenarios" / "shake.yaml"

KEYWORDS = {
    "Start Board", "Stop Board", "Skip If Engine Unavailable", "Load Scenario", "Run Scenario",
    "Run For Simulated Time", "Inject Fault", "Wait For Decision", "Decision Should Be",
    "Accuracy Should Be At Least", "False Alarms Per Hour Should Be At Most", "Worst Case Inference Should Be Within",
    "Flash Usage Should Be Below", "RAM Usage Should Be Below", "Stack High Water Mark Should Be Below",
    "Console Should Contain", "Start Debug Server", "Scenario Should Pass", "Firmware Path",
    # plain firmware ELFs (robot/firmware.py)
    "Run Firmware Until Exit", "Exit Code Should Be", "Fault Should Be", "Measured Function Should Be Within",
    "Wait For Console Line", "Write To UART",
}  # fmt: skip


def test_module_name_is_the_library() -> None:
    assert robot is SimLibrary  # `Library    tinyml_cosim.robot` takes the class named like the module
    assert SimLibrary.ROBOT_LIBRARY_SCOPE == "SUITE"


def test_libdoc_lists_every_keyword_with_documentation(tmp_path: Path) -> None:
    from robot.libdoc import LibraryDocumentation, libdoc

    doc = LibraryDocumentation("tinyml_cosim.robot")
    names = {kw.name for kw in doc.keywords}
    assert names == KEYWORDS
    for kw in doc.keywords:
        assert len(kw.doc) > 60, f"{kw.name} has no real documentation"
    assert "scope" in " ".join(a.name for a in doc.inits[0].args) and "Board and engine" in doc.doc

    out = tmp_path / "tinyml_cosim.robot.html"
    assert libdoc("tinyml_cosim.robot", str(out), quiet=True) == 0
    page = out.read_text()
    for name in KEYWORDS:
        assert name in page


def test_keywords_come_from_one_component_per_domain() -> None:
    lib = SimLibrary()
    modules = {type(c).__module__ for c in lib.keywords.values() for c in [getattr(c, "__self__", None)] if c}
    assert modules == {"tinyml_cosim.robot.board", "tinyml_cosim.robot.scenario", "tinyml_cosim.robot.decisions",
                       "tinyml_cosim.robot.budgets", "tinyml_cosim.robot.debug",
                       "tinyml_cosim.robot.firmware"}  # fmt: skip
    assert lib in lib.ROBOT_LIBRARY_LISTENER  # ends the board at the end of each test / suite


def test_keyword_without_a_board_says_what_to_do() -> None:
    lib = SimLibrary()
    with pytest.raises(CosimKeywordError, match="no board: use Start Board first"):
        lib.run_keyword("load_scenario", [str(SCENARIO)])
    assert CosimKeywordError.ROBOT_SUPPRESS_NAME


def test_scope_argument_is_checked() -> None:
    with pytest.raises(BadInput, match="scope='global'"):
        SimLibrary(scope="global")
    assert SimLibrary(scope="Suite").ctx.scope == "suite"


def test_worst_case_message_matches_the_documented_form() -> None:
    # 1,912,440 instructions at 168 MHz = 11.38 ms, 13.8 % over 10 ms
    assert worst_case_message(1_912_440, 1_912_440 / 168e6 * 1000, 168_000_000, 10.0) == (
        "Worst-case inference 1,912,440 instructions (11.4 ms at 168 MHz) exceeds 10.0 ms deadline by 14 %"
    )
    text = worst_case_message(3351, 0.0217, 168_000_000, 0.01, "seed 11, inference #11 at 2.395 s simulated")
    assert text.endswith("exceeds 0.01 ms deadline by 117 % (seed 11, inference #11 at 2.395 s simulated)")


def test_memory_message_states_actual_limit_and_board() -> None:
    assert memory_message("Flash usage", 8900, 4096, 1 << 20, "stm32f405") == (
        "Flash usage 8,900 bytes (0.8 % of stm32f405's 1,048,576) is not below 4,096 bytes (exceeds it by 117 %)"
    )


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [("65536", None, 65536), ("64 KiB", None, 65536), ("64K", None, 65536), ("1.5 MiB", None, 1572864),
     ("50 %", 1000, 500), ("10%", 131072, 13107), (2048, None, 2048)],
)  # fmt: skip
def test_sizes(text, limit, expected) -> None:  # type: ignore[no-untyped-def]
    assert parse_size(text, limit) == expected


def test_bad_arguments_name_what_is_right() -> None:
    with pytest.raises(BadInput, match="is not a size"):
        parse_size("lots")
    with pytest.raises(BadInput, match="needs a limit"):
        parse_size("10 %")
    with pytest.raises(BadInput, match="is not a fraction"):
        parse_fraction("most")
    with pytest.raises(BadInput, match="must be a positive simulated time"):
        tinyml_cosim_time("0 s", "within")
    assert parse_fraction("90 %") == pytest.approx(0.9) and parse_fraction("0.95") == 0.95
    assert tinyml_cosim_time("10 us") == pytest.approx(1e-5) and tinyml_cosim_time("0", zero_ok=True) == 0.0
    assert tinyml_cosim_time("1.5 ms") == pytest.approx(0.0015)  # not rounded to Robot's millisecond default


def test_inject_fault_edits_the_effective_scenario_only(tmp_path: Path) -> None:
    with BoardSession(workdir=tmp_path / "w") as s:
        s.load_scenario(SCENARIO)
        assert s.board_id == "stm32f405"
        s.inject_fault("stuck_at", "accel", 1.5, 3.0, {})
        s.inject_fault("disconnect", "accel", 5.0, None, {"reads": "full_scale", "channels": ["x"]})
        data = yaml.safe_load(s.scenario_file().read_text())
        chain = data["sensors"][0]["impairments"]
        assert chain[1:] == [
            {"type": "stuck_at", "start_s": 1.5, "duration_s": 3.0},
            {"type": "disconnect", "start_s": 5.0, "reads": "full_scale", "channels": ["x"]},
        ]
        assert "stuck_at" not in SCENARIO.read_text()  # the suite's file is untouched
        with pytest.raises(BadInput, match=r"type 'stuck' is not one of .*stuck_at"):
            s.inject_fault("stuck", "accel", 1.0, None, {})
        with pytest.raises(BadInput, match=r"reads: 'sideways' is not one of zero, full_scale"):
            s.inject_fault("disconnect", "accel", 1.0, None, {"reads": "sideways"})
        with pytest.raises(BadInput, match=r"no sensor 'gyro' in scenario shake; sensors: accel"):
            s.inject_fault("stuck_at", "gyro", 1.0, None, {})
        with pytest.raises(BadInput, match="set by the keyword itself"):
            s.inject_fault("stuck_at", "accel", 1.0, None, {"start_s": 2})
        assert len(s.faults) == 2
        s.load_scenario(SCENARIO)  # loading again drops the faults
        assert s.faults == [] and len(yaml.safe_load(s.scenario_file().read_text())["sensors"][0]["impairments"]) == 1
    assert (tmp_path / "w").is_dir()  # a workdir given by the caller is the caller's to remove


def test_board_from_configuration_beats_the_scenario(tmp_path: Path) -> None:
    with BoardSession(board="stm32f205", workdir=tmp_path) as s:
        s.load_scenario(SCENARIO)
        assert s.board_id == "stm32f205"
        assert yaml.safe_load(s.scenario_file().read_text())["board"] == "stm32f205"


def test_unknown_engine_and_missing_renode() -> None:
    with pytest.raises(BadInput, match="unknown engine 'bochs'"):
        BoardSession(engine="bochs")
    if shutil.which("renode") is None:
        reason = engine_unavailable_reason("renode", "stm32f405")
        assert reason and reason.startswith("engine renode cannot run board stm32f405: renode not found on PATH")
    # a fact of the board file, installed or not
    assert "cannot run on renode" in (engine_unavailable_reason("renode", "stm32f205") or "")


FAILING_SUITE = f"""*** Settings ***
Library             tinyml_cosim.robot
Test Setup          Start Board
Test Teardown       Stop Board

*** Test Cases ***
Keyword Fails
    Load Scenario    {SCENARIO}
    Run For Simulated Time    1 s
    Decision Should Be    shaking

Expected Error Leaves Nothing
    Load Scenario    {SCENARIO}
    Run For Simulated Time    1 s
    Run Keyword And Expect Error    *    Decision Should Be    shaking

BuiltIn Check Fails
    Load Scenario    {SCENARIO}
    ${{t}}=    Run For Simulated Time    1 s
    Should Be True    ${{t}} > 5
"""


@needs_qemu
def test_failed_keyword_or_test_keeps_console_record_and_a_link(tmp_path: Path) -> None:
    """`${OUTPUT DIR}/cosim-failures/<suite>/<test>/` for a failed library keyword, and (from the teardown's Stop
    Board) for a test failed by a BuiltIn check; none for a test whose failure was expected."""
    import robot as rf

    suite = tmp_path / "failing.robot"
    suite.write_text(FAILING_SUITE)
    out = tmp_path / "out"
    rc = rf.run(str(suite), outputdir=str(out), stdout=io.StringIO(), stderr=io.StringIO())
    assert rc == 2  # two failed tests
    failures = out / "cosim-failures" / "Failing"
    assert sorted(p.name for p in failures.iterdir()) == ["BuiltIn_Check_Fails", "Keyword_Fails"]
    for test in failures.iterdir():
        console = (test / "console.log").read_text().splitlines()
        record = json.loads((test / "run.json").read_text())
        assert record["status"] == "budget_reached" and record["simulated_seconds"] == pytest.approx(1.0)
        assert len(console) > 20 and console[-20:] == record["console_tail"]  # the whole console, not the tail
    messages = _messages(out / "output.xml")
    assert any('href="cosim-failures/Failing/Keyword_Fails"' in m and "console.log, run.json" in m for m in messages)


def _messages(output: Path) -> list[str]:
    """Every log message of a Robot run."""
    from robot.api import ExecutionResult, ResultVisitor

    found: list[str] = []

    class Collect(ResultVisitor):
        def visit_message(self, msg) -> None:  # type: ignore[no-untyped-def]
            found.append(msg.message)

    ExecutionResult(str(output)).visit(Collect())
    return found


@needs_qemu
def test_failed_keyword_keeps_the_engines_log(tmp_path: Path, firmware) -> None:  # type: ignore[no-untyped-def]
    """A lockup: QEMU's own `qemu: fatal:` message is kept beside the console and the record."""
    import robot as rf

    suite = tmp_path / "lockup.robot"
    suite.write_text(
        "*** Settings ***\nLibrary    tinyml_cosim.robot\nTest Teardown    Stop Board\n\n*** Test Cases ***\n"
        f"Locks Up\n    Start Board    firmware={firmware('foreign_lockup')}\n    Run For Simulated Time    0.5 s\n"
    )
    out = tmp_path / "out"
    assert rf.run(str(suite), outputdir=str(out), stdout=io.StringIO(), stderr=io.StringIO()) == 1
    test = out / "cosim-failures" / "Lockup" / "Locks_Up"
    assert sorted(p.name for p in test.iterdir()) == ["console.log", "engine.log", "run.json"]
    assert json.loads((test / "run.json").read_text())["status"] == "lockup"
    assert "Lockup" in (test / "engine.log").read_text()
