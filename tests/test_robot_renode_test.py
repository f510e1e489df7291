"""robot_tests/renode/: tinyml_cosim.robot next to Renode's own keywords under `renode-test`. Renode cannot be installed
here, so this test runs the suite the way Renode 1.16's runner does (renode/tests/robot_tests_provider.py: build the
suite, add renode-keywords.robot as a resource, pass RENODEKEYWORDS and the --variable options, run it in-process)
with a stand-in keyword file that records each Renode keyword call. The project's library half runs for real on QEMU."""

from __future__ import annotations

from pathlib import Path

from cosim_testing import needs_qemu

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
    from robot.api import ExecutionResult
    from robot.running import TestSuiteBuilder

    keywords = tmp_path / "renode-keywords.robot"
    keywords.write_text(STAND_IN)
    calls = tmp_path / "calls.txt"
    suite = TestSuiteBuilder().build(str(SUITE))
    suite.resource.imports.create(type="Resource", name=str(keywords))
    suite.run(
        console="none", outputdir=str(tmp_path), output=str(tmp_path / "out.xml"), log=None, report=None,
        variable=[f"RENODEKEYWORDS:{keywords}", f"CALLS:{calls}", "ENGINE:qemu", f"RESULTS_DIRECTORY:{tmp_path}"],
    )  # fmt: skip
    result = ExecutionResult(str(tmp_path / "out.xml"))
    tests = {t.name: (t.status, t.message) for t in result.suite.tests}
    assert tests == {
        "Firmware Boots On Renode's Stock STM32F4 Model": ("PASS", ""),
        "Detects Shaking And Fits Its Budgets": ("PASS", ""),
    }
    lines = calls.read_text().splitlines()
    elf = Path(next(ln for ln in lines if ln.startswith("Execute Command|sysbus LoadELF @")).split("@", 1)[1])
    assert elf.is_absolute() and elf.read_bytes()[:4] == b"\x7fELF" and "threshold_detector" in str(elf)
    assert lines == [
        "Setup",  # the suite setup calls Renode's own, which connects to renode-test's Renode
        "Reset Emulation",
        'Execute Command|mach create "stock"',
        "Execute Command|machine LoadPlatformDescription @platforms/cpus/stm32f4.repl",
        f"Execute Command|sysbus LoadELF @{elf}",
        "Create Terminal Tester|sysbus.usart1",
        "Start Emulation",
        "Wait For Line On Uart|BOOT app=threshold_detector",
        "Test Teardown",
        "Reset Emulation",
        "Test Teardown",
        "Teardown",
    ]
