"""`cosim replay RUN_DIR` re-runs one recorded inference window deterministically; `cosim run SCENARIO.yaml --gdb`
starts the scenario halted under a GDB server (tinyml_cosim/replay.py, tinyml_cosim/scenario_run.py)."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cosim_testing import needs_qemu
from typer.testing import CliRunner

from tinyml_cosim.cli.app import app
from tinyml_cosim.engines.gdbremote import RspClient, RspError
from tinyml_cosim.orchestrate.scenario_runs import ScenarioRunRequest, run_scenario

pytestmark = needs_qemu
SHAKE = Path(__file__).resolve().parent / "data" / "scenarios" / "verdicts" / "shake_pass.yaml"


@pytest.fixture(scope="module")
def shake_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shake") / "rep"
    run_scenario(ScenarioRunRequest(SHAKE, out=out))
    return out


def test_worst_window_input_is_saved_with_the_report(shake_report: Path) -> None:
    report = json.loads((shake_report / "report.json").read_text())
    at = report["timing"]["observed_maximum_at"]
    meta = json.loads((shake_report / "worst-window.json").read_text())
    assert (meta["seed"], meta["index"], meta["instructions"]) == (at["seed"], at["index"], at["instructions"])
    accel = meta["sensors"]["accel"]
    data = (shake_report / accel["file"]).read_bytes()
    # threshold_detector decides on 40-sample windows of 6-byte LIS2DW12 samples
    assert accel["samples"] == 40 and accel["sample_bytes"] == 6 and len(data) == 40 * 6


def test_replay_of_the_worst_window_takes_the_recorded_instructions(shake_report: Path) -> None:
    report = json.loads((shake_report / "report.json").read_text())
    at = report["timing"]["observed_maximum_at"]
    res = CliRunner().invoke(app, ["replay", str(shake_report), "--worst", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["identical"] and out["index"] == at["index"] and out["seed"] == at["seed"]
    assert out["replayed"]["instructions"] == out["recorded"]["instructions"] == at["instructions"]
    # The replay ends after the window instead of running the whole scenario.
    assert out["status"] == "budget_reached"


def test_replay_of_window_n_and_bad_input(shake_report: Path) -> None:
    rec = json.loads((shake_report / "run-seed11.json").read_text())
    third = [s for s in rec["spans"] if s["name"] == "inference"][2]
    res = CliRunner().invoke(app, ["replay", str(shake_report), "--window", "2"])
    assert res.exit_code == 0, res.output
    assert f"= {third['end'] - third['begin']:,} instructions: identical" in res.output
    res = CliRunner().invoke(app, ["replay", str(shake_report), "--window", "9999"])
    assert res.exit_code == 2 and "there is no inference #9999" in res.output
    res = CliRunner().invoke(app, ["replay", str(shake_report / "nope")])
    assert res.exit_code == 2 and "nope: no such directory" in res.output
    (shake_report.parent / "empty").mkdir(exist_ok=True)
    res = CliRunner().invoke(app, ["replay", str(shake_report.parent / "empty")])
    assert res.exit_code == 2 and "report.json: no such file" in res.output


def test_replay_with_gdb_runs_up_to_the_window_and_ends(shake_report: Path) -> None:
    at = json.loads((shake_report / "report.json").read_text())["timing"]["observed_maximum_at"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinyml_cosim.cli.app", "replay", str(shake_report), "--worst", "--gdb"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stderr is not None
        port = int(re.search(r"localhost:(\d+)", proc.stdout.readline())[1])  # type: ignore[index]
        assert proc.stdout.readline().strip().startswith('gdb-multiarch -q -ex "target extended-remote localhost:')
        client = RspClient("127.0.0.1", port)
        try:
            client.cont()
            # The host ends the session once the window's span is on the console: the stub reports the end of the
            # emulator, or just goes away.
            with contextlib.suppress(RspError, OSError):
                assert client.wait_stop(timeout=120).exited
        finally:
            client.close()
        proc.wait(timeout=30)
        console, err = proc.stdout.read(), proc.stderr.read()
        assert proc.returncode == 0 and f"inference #{at['index']}" in console
        # Up to and including the window: one decision per inference, none after it.
        assert console.count("DECISION class=") == at["index"] + 1 and "EXIT" not in console
        assert "ended by the host after SPAN" in err
    finally:
        if proc.poll() is None:
            proc.terminate()
            time.sleep(0.5)
            proc.kill()


def test_run_scenario_with_gdb_serves_a_debugger_to_completion() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinyml_cosim.cli.app", "run", str(SHAKE), "--gdb"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        header = proc.stdout.readline()
        port = int(re.search(r"localhost:(\d+)", header)[1])  # type: ignore[index]
        command = proc.stdout.readline().strip()
        assert command.startswith('gdb-multiarch -q -ex "target extended-remote localhost:') and "app.elf" in command
        client = RspClient("127.0.0.1", port)
        try:
            assert client.registers()[15] != 0  # halted at the reset vector, registers readable
            client.cont()
            stop = client.wait_stop(timeout=120)
            assert stop.exited and stop.code == 0
        finally:
            client.close()
        proc.wait(timeout=30)
        rest = proc.stdout.read()
        # The sensor streams were served: the firmware made its decisions and exited at the end of its data.
        assert "DECISION class=shaking" in rest and "EXIT code=0" in rest
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            time.sleep(0.5)
            proc.kill()


def test_gdb_is_for_scenarios(firmware) -> None:  # type: ignore[no-untyped-def]
    res = CliRunner().invoke(app, ["run", str(firmware("demo")), "--board", "stm32f405", "--gdb"])
    assert res.exit_code == 2 and "use `cosim debug ELF --board ID`" in res.output
