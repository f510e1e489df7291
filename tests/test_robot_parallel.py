"""Two Robot suites in parallel under pabot, as `make robot` runs them: no clash of GDB ports, QMP and console
sockets, board work directories or report directories, and both pass. The suites meet at a rendezvous (each waits
until the other has its debug server up), so the emulators of both really run at the same time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cosim_testing import alive, needs_qemu

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "robot_tests" / "scenarios" / "shake.yaml"

pytestmark = needs_qemu

PROBE = '''\
"""Records what one suite's board holds (ports, sockets, directories) and waits for the other suite."""
import json
import os
import time
from pathlib import Path

from robot.libraries.BuiltIn import BuiltIn


def record_board(rendezvous, report_dir):
    lib = BuiltIn().get_library_instance("tinyml_cosim.robot")
    board = lib.ctx.session
    engine = board.debug.engine
    facts = {
        "suite": BuiltIn().get_variable_value("${SUITE NAME}"),
        "robot_pid": os.getpid(),
        "gdb_port": board.debug.port,
        "qmp_socket": str(engine.workdir / "qmp.sock"),
        "console_socket": str(engine.workdir / "console.sock"),
        "qemu_pid": engine._proc.pid,
        "board_workdir": str(board.workdir),
        "output_dir": BuiltIn().get_variable_value("${OUTPUT DIR}"),
        "report_dir": report_dir,
    }
    assert Path(facts["qmp_socket"]).exists() and engine.is_alive()
    path = Path(rendezvous) / (facts["suite"] + ".json")
    path.write_text(json.dumps(facts))


def wait_for_suites(rendezvous, count, timeout=120):
    deadline = time.monotonic() + float(timeout)
    while len(list(Path(rendezvous).glob("*.json"))) < int(count):
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(list(Path(rendezvous).glob('*.json')))} of {count} suites came up")
        time.sleep(0.05)
'''

SUITE = """\
*** Settings ***
Library           tinyml_cosim.robot
Library           {probe}
Test Setup        Start Board

*** Test Cases ***
Side By Side
    Load Scenario    {scenario}
    ${{port}}=    Start Debug Server
    Run Scenario
    Scenario Should Pass
    ${{reports}}=    Evaluate    [str(p) for p in pathlib.Path(r'${{OUTPUT DIR}}').glob('cosim/*/scenario-*')]
    ...    modules=pathlib
    Record Board    {rendezvous}    ${{reports}}[0]
    Wait For Suites    {rendezvous}    2
    # both debug servers are up now: run again while the other suite's emulators run too
    Load Scenario    {scenario}
    ${{t}}=    Wait For Decision    shaking    within=3 s
    Should Be True    2.0 < ${{t}} <= 2.5
"""


def test_two_suites_in_parallel_do_not_clash(tmp_path: Path) -> None:
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir()
    (tmp_path / "probe.py").write_text(PROBE)
    suites = []
    for name in ("left", "right"):
        suite = tmp_path / f"{name}.robot"
        suite.write_text(SUITE.format(probe=tmp_path / "probe.py", scenario=SCENARIO, rendezvous=rendezvous))
        suites.append(suite)
    out = tmp_path / "out"
    bindir = Path(sys.executable).parent
    proc = subprocess.run(
        [str(bindir / "pabot"), "--no-pabotlib", "--processes", "2", "--command", sys.executable, "-m", "robot",
         "--end-command", "--outputdir", str(out), *map(str, suites)],
        cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]

    from robot.api import ExecutionResult

    result = ExecutionResult(str(out / "output.xml"))
    assert (result.statistics.total.passed, result.statistics.total.failed) == (2, 0)

    facts = [json.loads(p.read_text()) for p in sorted(rendezvous.glob("*.json"))]
    assert sorted(f["suite"].rsplit(".", 1)[-1] for f in facts) == ["Left", "Right"]
    a, b = facts
    assert a["robot_pid"] != b["robot_pid"]  # two Robot processes
    for key in ("gdb_port", "qmp_socket", "console_socket", "board_workdir", "output_dir", "report_dir"):
        assert a[key] != b[key], f"both suites used the same {key}: {a[key]}"
    for f in facts:
        assert Path(f["output_dir"]).is_relative_to(out / "pabot_results")
        assert Path(f["report_dir"]).is_relative_to(f["output_dir"])
        assert json.loads((Path(f["report_dir"]) / "report.json").read_text())["verdict"] == "pass"
        assert not Path(f["board_workdir"]).exists()  # each board removed its own work directory
        assert not alive(f["qemu_pid"])
