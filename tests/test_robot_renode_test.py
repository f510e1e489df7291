"""robot_tests/renode/: tinyml_cosim.robot next to Renode's own keywords under `renode-test`. CI has no Renode, so the
first test runs the suite the way Renode 1.16's runner does (renode/tests/robot_tests_provider.py: build the suite, add
renode-keywords.robot as a resource, pass RENODEKEYWORDS, RESULTS_DIRECTORY and the --variable options, run it
in-process) with a stand-in keyword file that records each Renode keyword call; the project's library half runs for
real on QEMU. The second (marked `renode`) runs it under the real renode-test on Renode, where Renode is on PATH."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cosim_testing import needs_qemu
from robot.api import ExecutionResult
from robot.running import TestSuiteBuilder as SuiteBuilder  # not named Test*: pytest would collect it

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.engines.renode.platform import overlay_text

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "robot_tests" / "renode" / "shake_with_renode_keywords.robot"

pytestmark = needs_qemu

# The keywords of renode-keywords.robot and of Renode's Remote library the example uses, recorded, not executed.
STAND_IN = """\
*** Settings ***
Library    OperatingSystem

*** Keywords ***
Setup
    Append To File    ${CALLS}    Setup\\n
Teardown
    Append To File    ${CALLS}    Teardown\\n
Reset Emulation
    Append To File    ${CALLS}    Reset Emulation\\n
Test Teardown
    Append To File    ${CALLS}    Test Teardown\\n
Execute Command
    [Arguments]    ${command}
    Append To File    ${CALLS}    Execute Command|${command}\\n
Create Terminal Tester
    [Arguments]    ${uart}
    Append To File    ${CALLS}    Create Terminal Tester|${uart}\\n
Start Emulation
    Append To File    ${CALLS}    Start Emulation\\n
Wait For Line On Uart
    [Arguments]    ${content}
    Append To File    ${CALLS}    Wait For Line On Uart|${content}\\n
"""


def test_the_example_runs_as_renode_test_runs_it(tmp_path: Path) -> None:

    keywords = tmp_path / "renode-keywords.robot"
    keywords.write_text(STAND_IN)
    calls = tmp_path / "calls.txt"
    # renode-test runs the suite in its working directory (${OUTPUT DIR}) and passes its -r directory as
    # RESULTS_DIRECTORY; apart here, so the test sees which one the reports use.
    cwd, results = tmp_path / "cwd", tmp_path / "results"
    suite = SuiteBuilder().build(str(SUITE))
    suite.resource.imports.create(type="Resource", name=str(keywords))
    suite.run(
        console="none", outputdir=str(cwd), output=str(tmp_path / "out.xml"), log=None, report=None,
        variable=[f"RENODEKEYWORDS:{keywords}", f"CALLS:{calls}", "ENGINE:qemu", f"RESULTS_DIRECTORY:{results}"],
    )  # fmt: skip
    result = ExecutionResult(str(tmp_path / "out.xml"))
    tests = {t.name: (t.status, t.message) for t in result.suite.tests}
    assert tests == {
        "Firmware Boots On The Board's Renode Platform": ("PASS", ""),
        "Detects Shaking And Fits Its Budgets": ("PASS", ""),
    }
    lines = calls.read_text().splitlines()
    elf = Path(next(ln for ln in lines if ln.startswith("Execute Command|sysbus LoadELF @")).split("@", 1)[1])
    assert elf.is_absolute() and elf.read_bytes()[:4] == b"\x7fELF" and "threshold_detector" in str(elf)
    # The platform is the project's overlay of the scenario's board, which loads offline (no ApplySVD download).
    platform = results / "cosim" / "stm32f405-cosim.repl"
    assert platform.read_text() == overlay_text(load_board("stm32f405"))
    assert "ApplySVD" not in platform.read_text()
    # The scenario's reports land in renode-test's results directory, nothing in the working directory's cosim/.
    assert (results / "cosim" / "Detects_Shaking_And_Fits_Its_Budgets" / "scenario-1" / "report.json").is_file()
    assert not (cwd / "cosim").exists()
    assert lines == [
        "Setup",  # the suite setup calls Renode's own, which connects to renode-test's Renode
        "Reset Emulation",
        'Execute Command|mach create "board"',
        f"Execute Command|machine LoadPlatformDescription @{platform}",
        f"Execute Command|sysbus LoadELF @{elf}",
        "Create Terminal Tester|sysbus.usart1",
        "Start Emulation",
        "Wait For Line On Uart|BOOT app=threshold_detector",
        "Test Teardown",
        "Reset Emulation",
        "Test Teardown",
        "Teardown",
    ]


RENODE_TEST = shutil.which("renode-test")


@pytest.mark.renode
@pytest.mark.timeout(1800)  # two Renodes (renode-test's and the engine's), the scenario replayed from boot: minutes
@pytest.mark.skipif(RENODE_TEST is None or shutil.which("renode") is None, reason="renode-test not on PATH")
def test_the_example_passes_under_the_real_renode_test(tmp_path: Path) -> None:
    """The suite's own recipe (its Documentation), run in a tmp working directory with a separate -r directory."""
    assert RENODE_TEST is not None
    cwd, results = tmp_path / "cwd", tmp_path / "results"
    cwd.mkdir()
    env = {**os.environ, "PYTHONPATH": str(SUITE.parent / "pythonpath")}
    done = subprocess.run(
        [RENODE_TEST, "-r", str(results), "--variable", "ENGINE:renode", str(SUITE)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = ExecutionResult(str(results / "robot_output.xml"))
    tests = {t.name: (t.status, t.message) for t in result.suite.all_tests}
    assert tests == {
        "Firmware Boots On The Board's Renode Platform": ("PASS", ""),
        "Detects Shaking And Fits Its Budgets": ("PASS", ""),
    }
    assert (results / "cosim" / "stm32f405-cosim.repl").read_text() == overlay_text(load_board("stm32f405"))
    report = json.loads(
        (results / "cosim" / "Detects_Shaking_And_Fits_Its_Budgets" / "scenario-1" / "report.json").read_text()
    )
    assert report["verdict"] == "pass"
    assert not (cwd / "cosim").exists() and list(cwd.iterdir()) == []  # nothing in the working directory
