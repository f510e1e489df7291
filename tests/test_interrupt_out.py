"""`cosim run SCENARIO --out DIR` interrupted or run twice at once: no emulator is left, DIR holds either the old
complete report or the new complete one (never a mix or a half), and a file the user put into DIR is untouched.

The scenario is the quickest in the tree (tests/data/scenarios/verdicts/shake_pass.yaml: 6 s simulated, about a
second of emulation); the old report carries a note the new one has not, so the two are told apart.
Kill points are drawn from a seeded generator over the measured length of one run, so the same points are tried
on every machine relative to its speed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from cosim_testing import ENGINE_PARAMS, alive, emulators_below

from tinyml_cosim.core.report_dir import MANIFEST, ReportDir
from tinyml_cosim.results.model import SCHEMA_PATH, Report

SHAKE = Path(__file__).resolve().parent / "data" / "scenarios" / "verdicts" / "shake_pass.yaml"
USER_FILE = "my-notes.txt"
OLD_NOTE = "the old report (tests/test_interrupt_out.py)"


def _start(out: Path, engine: str, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COSIM_CYCLES": "off"}  # the cycle plugin doubles QEMU's time; these tests need no cycles
    return subprocess.Popen(
        [sys.executable, "-m", "tinyml_cosim.cli.app", "run", str(SHAKE), "--out", str(out), "--engine", engine,
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


@pytest.fixture(scope="module", params=ENGINE_PARAMS)
def engine(request: pytest.FixtureRequest) -> str:
    """Every test runs on each engine where it is live (Renode: `make test-renode`), and skips with why elsewhere."""
    return str(request.param)


@pytest.fixture(scope="module")
def old_report(tmp_path_factory: pytest.TempPathFactory, engine: str) -> tuple[Path, float]:
    """A complete report marked as the old one, and how long a run takes here (the range of the kill points)."""
    out = tmp_path_factory.mktemp("old") / "rep"
    t0 = time.monotonic()
    proc = _start(out, engine)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    run_s = time.monotonic() - t0
    report = json.loads((out / "report.json").read_text())
    report["notes"].append(OLD_NOTE)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return out, run_s


def _which_report(out: Path) -> str:
    """'old' or 'new' when `out` holds that complete report (and the user's file); fails on anything else."""
    manifest = json.loads((out / MANIFEST).read_text())
    on_disk = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert sorted(manifest["files"]) == sorted(set(on_disk) - {MANIFEST, USER_FILE}), on_disk
    assert (out / USER_FILE).read_text() == "the user's own notes\n"
    text = (out / "report.json").read_text()
    jsonschema.validate(json.loads(text), json.loads(SCHEMA_PATH.read_text()))  # complete, and of the schema
    report = Report.model_validate_json(text)
    assert report.seeds == [11]
    assert (out / "run-seed11.json").is_file() and (out / "console-seed11.log").is_file()
    return "old" if OLD_NOTE in report.notes else "new"


def _trials() -> list[tuple[signal.Signals, float]]:
    rng = random.Random(18)  # issue 18: the same points (as fractions of one run) on every machine
    return [(sig, rng.uniform(0.05, 0.95)) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL) for _ in (0, 1)]


@pytest.mark.parametrize(
    ("sig", "at"), _trials(), ids=lambda v: v.name if isinstance(v, signal.Signals) else f"{v:.2f}"
)
def test_a_signal_at_any_point_leaves_a_complete_report_and_no_emulator(
    old_report: tuple[Path, float], engine: str, tmp_path: Path, sig: signal.Signals, at: float
) -> None:
    old, run_s = old_report
    out = tmp_path / "rep"
    shutil.copytree(old, out)
    (out / USER_FILE).write_text("the user's own notes\n")
    proc = _start(out, engine)
    seen: set[int] = set()
    deadline = time.monotonic() + at * run_s
    while time.monotonic() < deadline and proc.poll() is None:
        seen.update(emulators_below(proc.pid))
        time.sleep(0.02)
    seen.update(emulators_below(proc.pid))
    if proc.poll() is None:
        os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    gone_by = time.monotonic() + 10
    while any(alive(q) for q in seen) and time.monotonic() < gone_by:
        time.sleep(0.05)
    assert not [q for q in seen if alive(q)], f"emulators survived {sig.name}"
    if sig is not signal.SIGKILL:
        assert "Traceback" not in err, err
    which = _which_report(out)
    if proc.returncode == 0:
        assert which == "new"
    # A killed run's hidden temporaries are its own; the next run into the directory disposes of them.
    with ReportDir(out):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]
    assert _which_report(out) == which


def test_parallel_runs_into_different_directories_both_complete(engine: str, tmp_path: Path) -> None:
    a, b = _start(tmp_path / "a", engine), _start(tmp_path / "b", engine)
    for proc in (a, b):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    for out in (tmp_path / "a", tmp_path / "b"):
        (out / USER_FILE).write_text("the user's own notes\n")  # _which_report expects it
        assert _which_report(out) == "new"  # complete


def test_a_second_run_into_the_same_directory_is_refused_and_the_first_completes(
    old_report: tuple[Path, float], engine: str, tmp_path: Path
) -> None:
    out = tmp_path / "rep"
    shutil.copytree(old_report[0], out)
    (out / USER_FILE).write_text("the user's own notes\n")
    first = _start(out, engine)
    assert first.stderr is not None
    for line in first.stderr:  # "[scenario] …" comes once the directory is taken
        if line.startswith("[scenario]"):
            break
    else:
        pytest.fail(f"the first run ended without starting: {first.wait()}")
    second = _start(out, engine)
    _, err2 = second.communicate(timeout=120)
    assert second.returncode == 2
    assert err2 == f"error: --out {out}: is being written by another cosim run (pid {first.pid})\n"
    _, err1 = first.communicate(timeout=300)
    assert first.returncode == 0, err1
    assert _which_report(out) == "new"
