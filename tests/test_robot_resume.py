"""Resumable runs (`Run For Simulated Time`, `Wait For Decision`): with a scenario on QEMU the steps continue one
emulator session, held at the firmware's data requests; the run they make is instruction for instruction the one
uninterrupted run of the scenario, and each step shows exactly what a run with its budget there would show."""

from __future__ import annotations

import time
from pathlib import Path

from cosim_testing import alive, needs_qemu

from tinyml_cosim.orchestrate.board_session import BoardSession
from tinyml_cosim.orchestrate.scenario_runs import run_seed

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "robot_tests" / "scenarios" / "shake.yaml"

pytestmark = needs_qemu


def events(record) -> list[tuple[str, int, dict]]:  # type: ignore[no-untyped-def]
    return [(e.kind, e.instructions, e.fields) for e in record.events]


def test_steps_continue_one_session_identical_to_one_run(tmp_path: Path) -> None:
    with BoardSession(workdir=tmp_path / "board") as board:
        board.load_scenario(SCENARIO)
        assert board.resumable()
        first = board.run_for(0.1)
        live = board._live
        assert live is not None
        qemu = live.engine._proc.pid  # type: ignore[attr-defined]
        views = {0.1: first.record}
        for t in (2.0, 3.0, 4.7):
            views[t] = board.run_to(t).record
            assert board._live is live and alive(qemu)  # the same emulator, held between steps
            assert board.now_s == t
            if t == 2.0:
                time.sleep(1.0)  # wall-clock time while held must not reach the firmware
        again = board.run_to(3.0).record  # a time already passed: the record up to there, no new run
        assert events(again) == events(views[3.0])
        end = board.run_to(7.0)
        assert not alive(qemu) and end.record.status.value == "exited" and board.now_s == end.end_s

        path, elf = board.scenario_file(), board.elf()
        reference, _ = run_seed(path, elf, "qemu", 11, 6.3, 120)  # Run Scenario's run: 6 s plus 5 % slack
        assert events(end.record) == events(reference) and end.record.instructions == reference.instructions
        spans = [(s.name, s.begin, s.end) for s in reference.spans]
        assert [(s.name, s.begin, s.end) for s in end.record.spans] == spans and len(spans) > 20
        assert end.record.instructions == 1_007_189_045 and len(reference.events) == 156

        for t, view in views.items():
            budget = board.board.instructions(t)
            assert view.status.value == "budget_reached" and view.instructions == budget
            assert view.simulated_seconds == t
            assert events(view) == [e for e in events(reference) if e[1] <= budget]
            assert all(s.end <= budget for s in view.spans)
        # ... which is what a run with its budget at that time shows, up to the firmware's own BUDGET event
        budgeted, _ = run_seed(path, elf, "qemu", 11, 2.0, 120)
        assert events(budgeted)[:-1] == events(views[2.0]) and events(budgeted)[-1][0] == "BUDGET"

        board.load_scenario(SCENARIO)  # back to t = 0: the held session is stopped
        assert board._live is None


def test_decisions_across_steps_and_reset_on_fault(tmp_path: Path) -> None:
    with BoardSession(workdir=tmp_path / "board") as board:
        board.load_scenario(SCENARIO)
        board.run_for(2.0)
        assert board.decision_at().cls == "idle"  # type: ignore[union-attr]
        wait = board.wait_for_decision("shaking", 1.0)
        assert wait.decision is not None and 2.0 < wait.decision.t_s <= 2.5
        assert board.now_s == wait.decision.t_s
        qemu = board._live.engine._proc.pid  # type: ignore[union-attr]
        board.inject_fault("stuck_at", "accel", 1.5, 3.0, {})  # a new scenario: the session starts again from boot
        assert not alive(qemu) and board.now_s == 0.0
        assert board.wait_for_decision("shaking", 5.0).decision is None


def test_replay_from_boot_where_steps_cannot_be_held(tmp_path: Path) -> None:
    with BoardSession(workdir=tmp_path / "board", resume=False) as board:
        board.load_scenario(SCENARIO)
        assert not board.resumable()
        replayed = board.run_to(2.0).record
        assert board._live is None and events(replayed)[-1][:2] == ("BUDGET", 336_000_005)
    with BoardSession(workdir=tmp_path / "plain", app="threshold_detector") as board:
        assert not board.resumable()  # no scenario: no data requests to hold the firmware at
