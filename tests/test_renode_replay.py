"""`cosim replay --engine renode`: a scenario recorded on Renode (its firmware built with the RAM mailbox) replays its
worst window on Renode in exactly the recorded instructions (run/replay.py, cli/debugging.py).

The live tests need Renode on PATH (`make test-renode`) and are skipped otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cosim_testing import needs_toolchain
from typer.testing import CliRunner

from tinyml_cosim.build.firmware import build
from tinyml_cosim.cli.app import app
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.engines.renode import engine as renode_engine
from tinyml_cosim.orchestrate.scenario_runs import ScenarioRunRequest, run_scenario
from tinyml_cosim.run.replay import Window, find_window, replay_window

SHAKE = Path(__file__).resolve().parent / "data" / "scenarios" / "verdicts" / "shake_pass.yaml"


def short_shake(directory: Path) -> Path:
    """tests/data's shake_pass in 3 s instead of 6 (Renode runs about 3 s of this firmware a minute here): idle,
    shaking, idle, one second each; the same firmware, part and seed."""
    text = SHAKE.read_text()
    for old, new in [
        ("duration_s: 6.0", "duration_s: 3.0"),
        ("start_s: 2.0, duration_s: 2.0}", "start_s: 1.0, duration_s: 1.0}"),
        ("{start_s: 0.0, end_s: 2.0, label: idle}", "{start_s: 0.0, end_s: 1.0, label: idle}"),
        ("{start_s: 2.0, end_s: 4.0, label: shaking}", "{start_s: 1.0, end_s: 2.0, label: shaking}"),
        ("{start_s: 4.0, end_s: 6.0, label: idle}", "{start_s: 2.0, end_s: 3.0, label: idle}"),
    ]:
        assert old in text, old
        text = text.replace(old, new)
    path = directory / "shake_short.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def renode_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("shake-renode")
    out = work / "rep"
    run_scenario(ScenarioRunRequest(short_shake(work), engine="renode", out=out))
    return out


def needs_renode(test):
    """A live test: marked `renode`, skipped with the reason when Renode is not on PATH."""
    skip = pytest.mark.skipif(renode_engine.renode_binary() is None, reason="renode not on PATH (make test-renode)")
    return pytest.mark.renode(skip(test))


@needs_renode
def test_the_worst_window_replays_identically_on_renode(renode_report: Path) -> None:
    report = json.loads((renode_report / "report.json").read_text())
    at = report["timing"]["observed_maximum_at"]
    w = find_window(renode_report)
    assert w.engine == "renode" and (w.seed, w.index) == (at["seed"], at["index"])
    res = CliRunner().invoke(app, ["replay", str(renode_report), "--worst", "--engine", "renode", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["identical"] and out["engine"] == out["recorded_engine"] == "renode"
    assert out["replayed"] == out["recorded"] and out["recorded"]["instructions"] == at["instructions"]
    assert out["status"] == "budget_reached"  # it ends after the window instead of running the whole scenario


@needs_renode
def test_the_first_window_replays_identically_by_default_on_the_recorded_engine(renode_report: Path) -> None:
    rec = json.loads((renode_report / "run-seed11.json").read_text())
    first = next(s for s in rec["spans"] if s["name"] == "inference")
    res = CliRunner().invoke(app, ["replay", str(renode_report), "--window", "0"])  # no --engine: the recorded one
    assert res.exit_code == 0, res.output
    assert f"= {first['end'] - first['begin']:,} instructions: identical" in res.output


@needs_toolchain
def test_a_firmware_without_the_mailbox_cannot_replay_on_renode(tmp_path: Path) -> None:
    """A run recorded on QEMU ran a build without the RAM mailbox; the replay must run that ELF, so it says why."""
    elf = build(load_board("stm32f405"), "threshold_detector").elf
    w = Window(tmp_path, SHAKE, elf, "stm32f405", "qemu", 11, 0, "inference", 100, 200, "inference #0")
    with pytest.raises(BadInput, match=r"recorded on qemu with a firmware without the RAM mailbox .* --engine renode"):
        replay_window(w, "renode")
