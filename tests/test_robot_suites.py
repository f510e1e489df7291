"""Robot Framework suites through the `robot` API on QEMU: the fast tier passes, a failing suite fails with
messages that state actual vs expected and the simulated time, Renode suites skip with the reason when Renode is
absent, and no emulator outlives a test, a failing test or Ctrl-C."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from cosim_testing import alive, emulators_below, needs_qemu

ROOT = Path(__file__).resolve().parent.parent
SUITES = ROOT / "robot_tests"
SCENARIO = SUITES / "scenarios" / "shake.yaml"

pytestmark = needs_qemu


def run_robot(*sources: Path, outdir: Path, **options) -> object:  # type: ignore[no-untyped-def]
    import robot
    from robot.api import ExecutionResult

    out, err = io.StringIO(), io.StringIO()
    rc = robot.run(*[str(s) for s in sources], outputdir=str(outdir), stdout=out, stderr=err, **options)
    result = ExecutionResult(str(outdir / "output.xml"))
    result.rc = rc  # type: ignore[attr-defined]
    result.console = out.getvalue() + err.getvalue()  # type: ignore[attr-defined]
    return result


def messages(result) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    found: dict[str, tuple[str, str]] = {}

    def visit(suite) -> None:  # type: ignore[no-untyped-def]
        for t in suite.tests:
            found[t.name] = (t.status, t.message)
        for s in suite.suites:
            visit(s)

    visit(result.suite)
    return found


def test_fast_suite_passes(tmp_path: Path) -> None:
    """The fast tier of `make test`: every `fast` test in robot_tests/ (one short suite per application)."""
    result = run_robot(SUITES, outdir=tmp_path, include=["fast"])
    stats = result.statistics.total
    assert (stats.failed, stats.skipped) == (0, 0), result.console
    assert result.rc == 0
    got = messages(result)
    detector = [name for name in got if name in THRESHOLD_DETECTOR_FAST]
    assert sorted(detector) == sorted(THRESHOLD_DETECTOR_FAST) and stats.passed == len(got)
    # Run Scenario left its report (and the effective scenario) under ${OUTPUT DIR}/cosim/<test>/
    with_reports = (
        "Normal_Operation_Meets_The_Scenario_s_Expectations",
        "Stuck_Sensor_During_The_Shaking_Hides_The_Event",
        "Inference_Time_And_Memory_Fit_The_Board",
    )
    for test in with_reports:
        reports = list(tmp_path.glob(f"cosim/{test}/scenario-*/report.json"))
        assert len(reports) == 1 and (reports[0].parent / "scenario.yaml").is_file(), test


THRESHOLD_DETECTOR_FAST = [
    "Detects Shaking Within Half A Second Of Its Start", "Normal Operation Meets The Scenario's Expectations",
    "Stuck Sensor During The Shaking Hides The Event", "Inference Time And Memory Fit The Board",
]  # fmt: skip


FAILING = """\
*** Settings ***
Library           tinyml_cosim.robot
Test Setup        Start Board

*** Test Cases ***
Deadline Too Tight
    Load Scenario    {scenario}
    Run Scenario
    Worst Case Inference Should Be Within    10 us

Wrong Decision
    Load Scenario    {scenario}
    Run For Simulated Time    3 s
    Decision Should Be    idle

No Decision
    Load Scenario    {scenario}
    Wait For Decision    shaking    within=1 s

Flash Too Small
    Load Scenario    {scenario}
    Flash Usage Should Be Below    4 KiB

RAM Too Small
    Load Scenario    {scenario}
    RAM Usage Should Be Below    1 %

Stack Too Small
    Load Scenario    {scenario}
    Run Scenario
    Stack High Water Mark Should Be Below    256

Accuracy Too Low
    Load Scenario    {scenario}
    Inject Fault    stuck_at    accel    start=1.5 s    duration=3 s
    Run Scenario
    Accuracy Should Be At Least    0.99

False Alarms
    Load Scenario    {scenario}
    Inject Fault    spikes    accel    start=0.5 s    duration=1 s    rate_hz=20    amplitude=3
    Run Scenario
    False Alarms Per Hour Should Be At Most    1

Unknown Fault
    Load Scenario    {scenario}
    Inject Fault    stuck    accel    start=1 s

Console Missing
    Load Scenario    {scenario}
    Run For Simulated Time    100 ms
    Console Should Contain    hello world

Leaves A Debug Server Running
    Start Board    app=threshold_detector
    Start Debug Server
    Fail    on purpose, without a teardown

Firmware Faults
    Start Board    app=fault_bus
    Run For Simulated Time    1 s

Expectations Fail
    Load Scenario    {scenario}
    Inject Fault    stuck_at    accel    start=1.5 s    duration=3 s
    Run Scenario
    Scenario Should Pass

No Decision Yet
    Load Scenario    {scenario}
    Run For Simulated Time    100 ms
    Decision Should Be    idle

No Emulator Left From The Test Before
    ${{live}}=    Evaluate    [p.pid for p in tinyml_cosim.engines.launcher._live if p.poll() is None]
    ...    modules=tinyml_cosim.engines.launcher
    Should Be Empty    ${{live}}
"""


def test_failing_suite_messages(tmp_path: Path) -> None:
    from tinyml_cosim.engines import launcher

    suite = tmp_path / "failing.robot"
    suite.write_text(FAILING.format(scenario=SCENARIO))
    result = run_robot(suite, outdir=tmp_path / "out")
    got = messages(result)
    assert got.pop("No Emulator Left From The Test Before") == ("PASS", "")  # the listener stopped it
    assert all(status == "FAIL" for status, _ in got.values()) and len(got) == 14
    m = {name: msg for name, (_, msg) in got.items()}
    assert m["Deadline Too Tight"].startswith("Worst-case inference 3,352 instructions (")
    assert "ms at 168 MHz) exceeds 0.01 ms deadline by " in m["Deadline Too Tight"]
    assert "(seed 11, inference #11 at 2.395 s simulated" in m["Deadline Too Tight"]
    assert m["Wrong Decision"] == (
        "Decision at 3.000 s simulated is 'shaking' (made at 2.995 s), expected 'idle' (shake on stm32f405/qemu)"
    )
    assert m["No Decision"].startswith(
        "No 'shaking' decision within 1 s of simulated time (from 0.000 s to 1.000 s) on shake on stm32f405/qemu; "
        "decisions seen: idle at 0.195 s, idle at 0.395 s"
    )
    assert (
        m["Flash Too Small"].startswith("Flash usage ")
        and "is not below 4,096 bytes (exceeds it by" in m["Flash Too Small"]
    )
    assert "RAM usage " in m["RAM Too Small"] and "is not below 1,310 bytes" in m["RAM Too Small"]
    assert m["Stack Too Small"].startswith("Stack high-water mark ")
    assert "reservation at exit, 5.995 s simulated) is not below 256 bytes" in m["Stack Too Small"]
    assert m["Accuracy Too Low"].startswith("Accuracy 69.2 % (18 of 26 decisions correct; 95 % CI")
    assert m["Accuracy Too Low"].endswith("is below the required 99.0 % over 1 seed(s) of 6.000 s simulated, "
                                          "shake on stm32f405/qemu")  # fmt: skip
    assert m["False Alarms"].startswith("False alarms 600.0 /h (1 false alarm(s): seed 11 at 0.795 s) exceeds the "
                                        "allowed 1 /h")  # fmt: skip
    kinds = "ageing, bit_flip, clipping, clock_drift, disconnect, dropout, gain_drift, jitter, mounting_rotation"
    assert m["Unknown Fault"].endswith(
        f"shake.yaml: sensors[0].impairments[1]: type 'stuck' is not one of {kinds}, offset_drift, pink_noise, "
        "spikes, stuck_at, white_noise"
    )
    assert not m["Unknown Fault"].startswith("CosimKeywordError")
    assert m["Console Missing"].startswith(
        "Console of the run (shake on stm32f405/qemu, 4 lines, up to 0.100 s simulated) does not contain 'hello world'"
    )
    assert m["Leaves A Debug Server Running"] == "on purpose, without a teardown"
    # 16,529 instructions before the mailbox buffer left QEMU builds (start-up zeroed its 8 KiB).
    assert m["Firmware Faults"].startswith(
        "Run on fault_bus on stm32f405/qemu ended with status fault at 0.000062 s simulated (10,335 instructions), "
        "expected to run from 0.000 s to 1.000 s: BusFault at 0x"
    )
    assert "@C1 10335 FAULT type=BusFault" in m["Firmware Faults"]  # the console's last lines
    expectations = m["Expectations Fail"].splitlines()
    assert expectations[0].startswith("Scenario shake on stm32f405/qemu fails 5 expectation(s) (")
    assert re.search(r"/cosim/Expectations_Fail/scenario-\d+/report\.html\):$", expectations[0])
    assert expectations[1].startswith("decision.accuracy: actual 0.692308, expected >= 0.9 (95 % CI")
    assert "decision.missed_events: actual 1, expected == 0" in expectations
    assert m["No Decision Yet"] == (
        "Decision at 0.100 s simulated is none yet, expected 'idle' (first decision: none; shake on stm32f405/qemu)"
    )
    assert not [p for p in launcher._live if p.poll() is None]


@pytest.mark.skipif(shutil.which("renode") is not None, reason="Renode is installed: the suites run instead")
def test_renode_suites_skip_with_the_reason(tmp_path: Path) -> None:
    result = run_robot(SUITES, outdir=tmp_path, variable=["ENGINE:renode"])
    stats = result.statistics.total
    assert (stats.passed, stats.failed) == (0, 0) and stats.skipped >= 11
    assert result.rc == 0
    reasons = (
        "renode not found on PATH",  # the board has a Renode model, Renode is not installed
        "cannot run on renode",  # the board has no Renode model
        "needs Renode's test runner: renode-test",  # robot_tests/renode/: Renode's own keywords
    )
    got = messages(result)
    for name, (status, msg) in got.items():
        assert status == "SKIP" and any(r in msg for r in reasons), (name, msg)
    assert "engine renode cannot run board stm32f405: renode not found on PATH" in got[THRESHOLD_DETECTOR_FAST[0]][1]


def test_ctrl_c_during_a_run_stops_the_emulator(tmp_path: Path) -> None:
    scn = yaml.safe_load(SCENARIO.read_text())
    scn["duration_s"] = 120.0
    (tmp_path / "long.yaml").write_text(yaml.safe_dump(scn))
    (tmp_path / "long.robot").write_text(
        "*** Settings ***\nLibrary    tinyml_cosim.robot\nTest Setup    Start Board\n\n*** Test Cases ***\nLong Run\n"
        "    Load Scenario    ${CURDIR}/long.yaml\n    Run For Simulated Time    120 s\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "robot", "--outputdir", str(tmp_path / "out"), str(tmp_path / "long.robot")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        emulators: list[int] = []
        while not emulators and time.monotonic() < deadline and proc.poll() is None:
            emulators = emulators_below(proc.pid)
            time.sleep(0.05)
        assert emulators, "no emulator started"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=30)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Execution terminated by signal" in output or proc.returncode != 0, output
    assert not [p for p in emulators if alive(p)], "emulator still running after Ctrl-C"


def test_the_suite_in_docs_robot_md_runs(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "robot.md").read_text()
    block = text.split("```robotframework\n", 1)[1].split("```", 1)[0]
    (tmp_path / "scenarios").mkdir()
    shutil.copy(SCENARIO, tmp_path / "scenarios" / "shake.yaml")
    (tmp_path / "shake.robot").write_text(block)
    result = run_robot(tmp_path / "shake.robot", outdir=tmp_path / "out")
    stats = result.statistics.total
    assert (stats.passed, stats.failed) == (4, 0), result.console


def test_the_readme_suite_runs_as_written(tmp_path: Path) -> None:
    """The README's suite for scenario authors is the one a reader copies: it must pass as printed (its scenario
    path is given on the command line, as the reader's ${CURDIR} would be the repository root)."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```robotframework\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "README.md should hold exactly one robotframework suite"
    suite = tmp_path / "readme_suite.robot"
    suite.write_text(blocks[0])
    result = run_robot(suite, outdir=tmp_path / "out", variable=[f"DAILY:{ROOT / 'scenarios/motion/daily.yaml'}"])
    stats = result.statistics.total
    assert (stats.passed, stats.failed, stats.skipped) == (3, 0, 0), result.console
