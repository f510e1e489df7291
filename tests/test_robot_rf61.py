"""The library on Robot Framework 6.1, the version Renode 1.16's test tooling pins (renode/tests/requirements.txt),
next to the project's 7.x: a second small venv (build/venv-rf61) holds only robotframework 6.1.1 and
robotframework-pythonlibcore; the project and its other dependencies come from the main venv through a .pth file,
so the venv costs two small wheels and a second or two. It is made once and reused (`make clean` removes it).

Versions come from the lock (constraints.txt) like every other job's, with one deliberate exception: robotframework
is 6.1.1 here, not the lock's 7.x, since 6.1 is what this job exists to run."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from cosim_testing import needs_qemu

ROOT = Path(__file__).resolve().parent.parent
SUITES = ROOT / "robot_tests"
SCENARIO = SUITES / "scenarios" / "shake.yaml"
RF61 = "6.1.1"  # the exception to the lock, see above
VENV = ROOT / "build" / "venv-rf61"

pytestmark = needs_qemu


def locked(name: str) -> str:
    """The version constraints.txt pins `name` to."""
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        pkg, sep, pinned = line.partition("==")
        if sep and pkg.strip().lower().replace("_", "-") == name:
            return pinned.strip()
    raise AssertionError(f"constraints.txt pins no {name} (regenerate it: make lock)")


LIBCORE = locked("robotframework-pythonlibcore")


def rf61_python() -> Path:
    """The venv's python (made on first use): robot 6.1.1 first on sys.path, then the project, then the main venv."""
    python = VENV / "bin" / "python"
    stamp = VENV / f".installed-rf{RF61}-libcore{LIBCORE}"
    if stamp.is_file() and python.exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", "--without-pip", str(VENV)], check=True)
    # The main venv's pip installs into the small one (pip --python): no second pip to bootstrap.
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--disable-pip-version-check",
         f"robotframework=={RF61}", f"robotframework-pythonlibcore=={LIBCORE}"],
        capture_output=True, text=True,
    )  # fmt: skip
    if pip.returncode != 0:
        why = f"cannot install robotframework=={RF61} into {VENV}: {pip.stderr.strip()[-800:]}"
        if os.environ.get("CI"):
            pytest.fail(why)  # CI has PyPI: a failure here is real
        pytest.skip(why + " (offline?)")
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    # .pth lines come after the venv's own site-packages: its robot 6.1.1 shadows the main venv's 7.x.
    (Path(site) / "tinyml-cosim.pth").write_text(f"{ROOT / 'src'}\n{sysconfig.get_paths()['purelib']}\n")
    stamp.touch()
    return python


def robot61(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(rf61_python()), "-m", "robot", "--console", "dotted", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def python61() -> Path:
    python = rf61_python()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    got = subprocess.run(
        [str(python), "-c", "import robot, robotlibcore, tinyml_cosim.robot; print(robot.__version__, robot.__file__)"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert got.stdout.startswith(RF61 + " ") and str(VENV) in got.stdout, got.stdout
    return python


FAILING = """\
*** Settings ***
Library           tinyml_cosim.robot
Test Setup        Start Board

*** Test Cases ***
Unknown Fault
    Load Scenario    {scenario}
    Inject Fault    stuck    accel    start=1 s

Flash Too Small
    Load Scenario    {scenario}
    Flash Usage Should Be Below    4 KiB
"""


def test_fast_suite_and_failure_messages_on_robot_framework_6_1(python61: Path, tmp_path: Path) -> None:
    from robot.api import ExecutionResult

    (tmp_path / "failing.robot").write_text(FAILING.format(scenario=SCENARIO))
    run = robot61(
        "--outputdir", str(tmp_path / "out"), "--name", "RF61", str(SUITES / "threshold_detector_fast.robot"),
        str(tmp_path / "failing.robot"), cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr  # the two deliberate failures, nothing else
    xml = tmp_path / "out" / "output.xml"
    assert f'generator="Robot {RF61} ' in xml.read_text()[:300]
    result = ExecutionResult(str(xml))
    tests = {t.name: (t.status, t.message) for s in result.suite.suites for t in s.tests}
    fast = [name for name, _ in tests.items() if name not in ("Unknown Fault", "Flash Too Small")]
    assert len(fast) == 4 and all(tests[n] == ("PASS", "") for n in fast), tests
    status, msg = tests["Unknown Fault"]
    assert status == "FAIL" and msg.endswith("type 'stuck' is not one of ageing, bit_flip, clipping, clock_drift, "
                                             "disconnect, dropout, gain_drift, jitter, mounting_rotation, "
                                             "offset_drift, pink_noise, spikes, stuck_at, white_noise")  # fmt: skip
    assert not msg.startswith("CosimKeywordError")  # ROBOT_SUPPRESS_NAME holds on 6.1 too
    status, msg = tests["Flash Too Small"]
    assert status == "FAIL" and msg.startswith("Flash usage ") and "is not below 4,096 bytes" in msg
    assert (tmp_path / "out" / "cosim").is_dir()  # Run Scenario's reports under ${OUTPUT DIR}/cosim


def test_libdoc_and_the_renode_example_on_robot_framework_6_1(python61: Path, tmp_path: Path) -> None:
    import json

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    spec = tmp_path / "tinyml_cosim.robot.json"
    doc = subprocess.run(
        [str(python61), "-m", "robot.libdoc", "tinyml_cosim.robot", str(spec)], env=env, capture_output=True, text=True
    )
    assert doc.returncode == 0, doc.stderr
    data = json.loads(spec.read_text())
    # 19 scenario and board keywords, and the 6 for plain ELFs (robot/firmware.py)
    assert data["generated"] and len(data["keywords"]) == 25
    assert all(len(kw["doc"]) > 60 for kw in data["keywords"])

    # renode-test runs Robot 6.1; outside it the example suite skips with the reason
    run = robot61("--outputdir", str(tmp_path / "out"), str(SUITES / "renode"), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    from robot.api import ExecutionResult

    result = ExecutionResult(str(tmp_path / "out" / "output.xml"))
    tests = [t for s in result.suite.suites for t in s.tests]
    assert len(tests) == 2 and all(t.status == "SKIP" for t in tests)
    assert all("needs Renode's test runner: renode-test --variable ENGINE:renode" in t.message for t in tests)
