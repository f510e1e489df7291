"""The pytest plugin (tinyml_cosim.pytest_plugin) through pytest's own `pytester`: a generated test file uses the
`board` fixture on QEMU, a failing one leaves its failure artefacts, options and the marker choose board and engine;
and the one function that writes failure artefacts for every front (tinyml_cosim.results.artefacts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cosim_testing import needs_qemu

from tinyml_cosim.results.artefacts import engine_log_text, keep_failure_artefacts
from tinyml_cosim.run.record import RunRecord, Status

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
SHAKE = ROOT / "robot_tests" / "scenarios" / "shake.yaml"


def _record() -> RunRecord:
    return RunRecord(status=Status.FAULT, diagnosis="HardFault", console_tail=["b"], board="stm32f405",
                     engine="qemu", elf="x.elf", elf_sha256="0" * 64, clock_hz=168_000_000)  # fmt: skip


class _Engine:
    def __init__(self, log_path: Path | None) -> None:
        self.log_path = log_path


def test_failure_artefacts_hold_the_whole_console_the_record_and_the_engine_log(tmp_path: Path) -> None:
    log = tmp_path / "qemu.stderr"
    log.write_text("qemu: fatal: Lockup: can't escalate 3 to HardFault")
    lines = [f"line {i}" for i in range(50)]
    written = keep_failure_artefacts(tmp_path / "out", _record(), lines, engine_log_text(_Engine(log)))
    out = tmp_path / "out"
    assert [p.name for p in written] == ["console.log", "run.json", "engine.log"]
    assert (out / "console.log").read_text().splitlines() == lines  # all 50, not the record's tail
    assert RunRecord.model_validate_json((out / "run.json").read_text()) == _record()
    assert (out / "engine.log").read_text() == "qemu: fatal: Lockup: can't escalate 3 to HardFault\n"


def test_failure_artefacts_skip_what_is_missing(tmp_path: Path) -> None:
    """No log_path (an engine class without one), an empty or vanished log, a front writing its own record."""
    empty = tmp_path / "empty.log"
    empty.write_text("")
    assert engine_log_text(object()) is None
    assert engine_log_text(_Engine(None)) is None
    assert engine_log_text(_Engine(empty)) is None
    assert engine_log_text(_Engine(tmp_path / "gone.log")) is None
    written = keep_failure_artefacts(tmp_path / "o", _record(), ["only"], None, write_record=False)
    assert [p.name for p in written] == ["console.log"]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["console.log"]


GENERATED = f"""
import pytest

SHAKE = {str(SHAKE)!r}


def test_decides_shaking(board):
    board.load_scenario(SHAKE)
    board.run_for(2.0)
    assert board.decision_at().cls == "idle"
    wait = board.wait_for_decision("shaking", within_s=1.0)
    assert wait.decision is not None and 2.0 < wait.decision.t_s <= 2.5


def test_wrong_decision_fails(board):
    board.load_scenario(SHAKE)
    board.run_for(1.0)
    assert board.decision_at().cls == "shaking"


@pytest.mark.cosim(app="demo")
def test_demo_runs_to_its_exit(board):
    run = board.run_for(1.0)
    assert run.record.status.value == "exited" and run.record.exit_code == 0
    assert len(run.record.spans) == 8
"""


# Torn down after the `board` fixture (autouse fixtures are set up first): the board left no emulator running, also
# after the failing test and with a live QEMU session held between steps.
NO_EMULATOR_LEFT = """
import pytest


@pytest.fixture(autouse=True)
def no_emulator_left():
    from tinyml_cosim.engines import launcher

    yield
    assert not [p.pid for p in launcher._live if p.poll() is None]
"""


@needs_qemu
def test_board_fixture_runs_a_scenario_and_keeps_failure_artefacts(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_gen=GENERATED)
    pytester.makeconftest(NO_EMULATOR_LEFT)
    arts = tmp_path / "arts"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--cosim-artifacts", str(arts))
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*- cosim failure artefacts -*", "console.log, run.json* in *test_wrong_decision_fails"]
    )
    failed = arts / "test_gen.py_test_wrong_decision_fails"
    passed = arts / "test_gen.py_test_decides_shaking"
    console = (failed / "console.log").read_text().splitlines()
    record = json.loads((failed / "run.json").read_text())
    assert record["status"] == "budget_reached" and record["simulated_seconds"] == pytest.approx(1.0)
    # The whole console from boot: more than the record's 20-line tail, which is its end.
    assert len(console) > len(record["console_tail"]) == 20
    assert console[-20:] == record["console_tail"]
    assert (failed / "scenario.yaml").is_file()  # the board's own outputs go to the same directory
    assert (passed / "scenario.yaml").is_file() and not (passed / "console.log").exists()


@needs_qemu
def test_failed_run_from_boot_keeps_its_artefacts(pytester: pytest.Pytester, firmware) -> None:  # type: ignore[no-untyped-def]
    """A faulting ELF (no scenario: every step runs from boot, no engine kept open) in the default tmp_path."""
    elf = firmware("fault_undef")
    pytester.makepyfile(
        test_fault=f"""
def test_fault(board, cosim_artifacts):
    print("ARTIFACTS", cosim_artifacts)
    board.load_elf({str(elf)!r})
    assert board.run_for(0.5).record.succeeded
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(failed=1)
    arts = Path(next(line for line in result.outlines if line.startswith("ARTIFACTS ")).split(" ", 1)[1])
    record = json.loads((arts / "run.json").read_text())
    assert record["status"] == "fault" and record["elf"] == str(elf)
    assert (arts / "console.log").read_text().splitlines()[-len(record["console_tail"]) :] == record["console_tail"]


PROBE = """
import pytest


def test_default(board, cosim_artifacts):
    (cosim_artifacts / "probe").write_text(f"{board.board_id} {board.engine}")


@pytest.mark.cosim(board="stm32f405", engine="qemu")
def test_marked(board, cosim_artifacts):
    (cosim_artifacts / "probe").write_text(f"{board.board_id} {board.engine}")


@pytest.mark.cosim(engine="no-such-engine")
def test_unknown_engine(board):
    pass
"""


@needs_qemu
def test_options_and_the_marker_choose_board_and_engine(pytester: pytest.Pytester, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("COSIM_ENGINE", raising=False)
    pytester.makepyfile(test_probe=PROBE)
    arts = pytester.path / "arts"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--cosim-board", "stm32f205", "--cosim-artifacts", str(arts)
    )
    result.assert_outcomes(passed=2, errors=1)
    # The option, with the CLI's engine resolution (qemu); the marker beats the option.
    assert (arts / "test_probe.py_test_default" / "probe").read_text() == "stm32f205 qemu"
    assert (arts / "test_probe.py_test_marked" / "probe").read_text() == "stm32f405 qemu"
    result.stdout.fnmatch_lines(["*cosim: unknown engine 'no-such-engine': choose one of qemu, renode*"])
    # An engine that cannot run the board here skips with the reason: stm32f205 has no Renode model.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs", "--cosim-engine", "renode", "--cosim-board",
                                "stm32f205", "-k", "default")  # fmt: skip
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*board stm32f205 cannot run on renode*"])


# --- the other fronts: `cosim run ELF --out DIR` and `cosim run SCENARIO --out DIR` ---


@needs_qemu
def test_cosim_run_elf_keeps_the_whole_console_when_the_run_fails(firmware, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from tinyml_cosim.cli.app import app

    ok, bad = tmp_path / "ok", tmp_path / "bad"
    result = CliRunner().invoke(app, ["run", "--board", "stm32f405", "--out", str(ok), str(firmware("demo"))])
    assert result.exit_code == 0
    # a run that succeeded keeps only its record (and the manifest of the --out contract, core.report_dir)
    assert sorted(p.name for p in ok.iterdir()) == [".cosim-report.json", "run.json"]
    result = CliRunner().invoke(
        app, ["run", "--board", "stm32f405", "--json", "--out", str(bad), str(firmware("fault_undef"))]
    )
    assert result.exit_code == 1
    record = RunRecord.model_validate_json((bad / "run.json").read_text())
    assert record.status is Status.FAULT
    console = (bad / "console.log").read_text().splitlines()
    assert console and console[-len(record.console_tail) :] == record.console_tail


@needs_qemu
def test_cosim_run_scenario_keeps_the_failed_runs_console(tmp_path: Path) -> None:
    import yaml
    from typer.testing import CliRunner

    from tinyml_cosim.cli.app import app

    data = yaml.safe_load(SHAKE.read_text())
    data.update(app="fault_undef", duration_s=1.0, timeline=[{"start_s": 0.0, "end_s": 1.0, "label": "idle"}])
    data["expect"] = {}
    scenario = tmp_path / "faulting.yaml"
    scenario.write_text(yaml.safe_dump(data))
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["run", str(scenario), "--out", str(out)])
    assert result.exit_code == 1, result.output
    record = RunRecord.model_validate_json((out / f"run-seed{data['seed']}.json").read_text())
    assert record.status is Status.FAULT
    assert (out / "console.log").read_text() == (out / f"console-seed{data['seed']}.log").read_text()
    assert not (out / "run.json").exists()  # the record is run-seed<N>.json, beside report.json


@needs_qemu
def test_cosim_run_elf_keeps_the_engines_log_when_the_engine_wrote_one(firmware, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The record carries QEMU's stderr out of run_firmware: a lockup's `qemu: fatal:` message lands in engine.log;
    a bus fault, about which QEMU says nothing, leaves none (nothing is invented)."""
    from typer.testing import CliRunner

    from tinyml_cosim.cli.app import app

    lockup, bus = tmp_path / "lockup", tmp_path / "bus"
    result = CliRunner().invoke(
        app, ["run", "--board", "stm32f405", "--out", str(lockup), str(firmware("foreign_lockup"))]
    )
    assert result.exit_code == 1, result.output
    assert RunRecord.model_validate_json((lockup / "run.json").read_text()).status is Status.LOCKUP
    assert "Lockup" in (lockup / "engine.log").read_text()
    result = CliRunner().invoke(app, ["run", "--board", "stm32f405", "--out", str(bus), str(firmware("fault_bus"))])
    assert result.exit_code == 1, result.output
    assert sorted(p.name for p in bus.iterdir()) == [".cosim-report.json", "console.log", "run.json"]


@needs_qemu
def test_failed_test_keeps_the_engines_log(pytester: pytest.Pytester, firmware) -> None:  # type: ignore[no-untyped-def]
    """A run from boot (no engine kept open): the log comes with the last run's record."""
    elf = firmware("foreign_lockup")
    pytester.makepyfile(
        test_lockup=f"""
def test_lockup(board, cosim_artifacts):
    print("ARTIFACTS", cosim_artifacts)
    board.load_elf({str(elf)!r})
    assert board.run_for(0.5).record.succeeded
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*console.log, run.json, engine.log in *"])
    arts = Path(next(line for line in result.outlines if line.startswith("ARTIFACTS ")).split(" ", 1)[1])
    assert json.loads((arts / "run.json").read_text())["status"] == "lockup"
    assert "Lockup" in (arts / "engine.log").read_text()
