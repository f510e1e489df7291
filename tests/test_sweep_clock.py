"""Board clock overrides (issue 17): `board: stm32f405@84MHz` and a sweep's `clock_hz:` axis. The wait states come
from the board file's flash latency table; a clock above the board's is refused; a lower clock gives time =
count / clock exactly, and the deadline verdict flips where the numbers say it must."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cosim_testing import needs_qemu
from typer.testing import CliRunner

from tinyml_cosim.cli.sweep import app as sweep_app
from tinyml_cosim.core.boards import available_boards, board_ref, load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.sweep.execute import build_firmware
from tinyml_cosim.sweep.plan import plan_sweep
from tinyml_cosim.sweep.pointrun import PointTask, run_point
from tinyml_cosim.sweep.report import fit_table
from tinyml_cosim.sweep.results import row_of

DATA = Path(__file__).parent / "data" / "sweeps"


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    shutil.copy(DATA / "walk_base.yaml", tmp_path / "walk_base.yaml")
    return tmp_path


def write(d: Path, text: str, name: str = "s.yaml") -> Path:
    (d / name).write_text(text)
    return d / name


def test_a_board_at_a_lower_clock_takes_the_latency_tables_wait_states() -> None:
    f405 = load_board("stm32f405")
    assert f405.cycle_model is not None and f405.cycle_model.wait_states == 5
    # RM0090 table 10 at 2.7-3.6 V: 30 MHz per wait state.
    for mhz, ws in [(30, 0), (31, 1), (84, 2), (90, 2), (120, 3), (150, 4), (168, 5)]:
        b = load_board(f"stm32f405@{mhz}MHz")
        assert (b.clock_hz, b.cycle_model and b.cycle_model.wait_states) == (mhz * 1_000_000, ws), mhz
    low = load_board("stm32f405@84MHz")
    assert low.id == "stm32f405@84MHz" and low.seconds(84_000_000) == 1.0
    assert low.memory == f405.memory and low.mcu == f405.mcu
    # Every board's table gives the board file's own wait states at its own clock.
    for board in available_boards():
        b = load_board(board)
        assert b.cycle_model is not None and b.cycle_model.wait_states_at(b.clock_hz) == b.cycle_model.wait_states
    assert board_ref("stm32f405@84MHz", 48_000_000) == "stm32f405@48MHz"
    assert board_ref("stm32f405", None) == "stm32f405"


def test_a_clock_above_the_boards_maximum_is_refused() -> None:
    with pytest.raises(BadInput, match=r"200 MHz is above the STM32F405RG's maximum of 168 MHz"):
        load_board("stm32f405@200MHz")
    with pytest.raises(BadInput, match=r"positive whole number of MHz"):
        load_board("stm32f405@0MHz")


def test_a_clock_axis_plans_one_build_per_board_and_clock(sweep_dir: Path) -> None:
    path = write(
        sweep_dir,
        "version: 1\nbase: walk_base.yaml\nboard: [stm32f405, stm32f205]\nclock_hz: [84000000, 120000000]\n"
        "seeds: 2\nexpect:\n  - timing.deadline_ms holds while clock_hz >= 100 MHz\n",
    )
    plan = plan_sweep(path)
    assert len(plan.points) == 8 and "clock_hz" in plan.axis_names
    got = {(p.values["board"], p.values["clock_hz"], p.scenario["board"]) for p in plan.points}
    assert got == {
        ("stm32f405", 84_000_000, "stm32f405@84MHz"),
        ("stm32f405", 120_000_000, "stm32f405@120MHz"),
        ("stm32f205", 84_000_000, "stm32f205@84MHz"),
        ("stm32f205", 120_000_000, "stm32f205@120MHz"),
    }
    # The clock is compiled in (-DCOSIM_CLOCK_HZ): one build per board and clock, shared by the seeds.
    assert sorted(b.board for b in plan.builds) == sorted({g[2] for g in got})
    assert len({p.hash for p in plan.points}) == 8
    # A changed clock changes the hash of its points only.
    other = write(sweep_dir, path.read_text().replace("84000000", "48000000"), "other.yaml")
    kept = {p.hash for p in plan.points} & {p.hash for p in plan_sweep(other).points}
    assert kept == {p.hash for p in plan.points if p.values["clock_hz"] == 120_000_000} and len(kept) == 4


def test_a_clock_above_a_boards_maximum_exits_2_with_one_line(sweep_dir: Path) -> None:
    body = "version: 1\nbase: walk_base.yaml\nboard: [stm32f405, stm32f205]\nclock_hz: [84000000, 168000000]\n"
    path = write(sweep_dir, body)
    res = CliRunner().invoke(sweep_app, ["validate", str(path)])
    errors = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert res.exit_code == 2 and len(errors) == 1, res.output
    assert errors[0].startswith(f"error: {path}:4: clock_hz: board stm32f205@168MHz: 168 MHz is above")
    # Excluding the combination the board cannot run leaves a valid sweep.
    write(sweep_dir, body + "exclude:\n  - {board: stm32f205, clock_hz: 168000000}\n")
    res = CliRunner().invoke(sweep_app, ["validate", str(path)])
    assert res.exit_code == 0 and "3 point(s) (1 excluded)" in res.output, res.output
    bad = write(sweep_dir, "version: 1\nbase: walk_base.yaml\nclock_hz: [84500000]\n", "bad.yaml")
    res = CliRunner().invoke(sweep_app, ["validate", str(bad)])
    assert res.exit_code == 2 and f"error: {bad}:3: clock_hz[0]: 84500000: give a positive whole number" in res.output


@needs_qemu
@pytest.mark.qemu
def test_a_lower_clock_scales_time_and_flips_the_deadline_where_the_numbers_say(
    sweep_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """walk_base's deadline is 20 ms, checked at the band's upper end of the cycle model's estimate: the activity
    tracker's worst inference (~2.05 M estimated cycles) misses it at 120 MHz and meets it at 150 MHz."""
    monkeypatch.setenv("COSIM_CYCLES", "on")  # the wait states act through the cycle model (tests/conftest.py)
    plan = plan_sweep(write(sweep_dir, "version: 1\nbase: walk_base.yaml\nclock_hz: [120000000, 150000000]\n"))
    bundles, _ = build_firmware(plan, None)
    rows, metrics = [], {}
    for p in plan.points:
        result = run_point(PointTask(p.hash, p.scenario, p.kernels, None, None, str(tmp_path)), bundles[p.build])
        rows.append(row_of(p, result))
        metrics[p.values["clock_hz"]] = m = result["metrics"]
        assert m["clock_hz"] == p.values["clock_hz"]
        # Time is the count (here the cycle model's estimated cycles) over the point's clock, exactly.
        assert m["time_basis"] == "estimated cycles"
        assert m["worst_inference_ms"] == m["worst_inference_cycles"] / m["clock_hz"] * 1e3
    low, high = metrics[120_000_000], metrics[150_000_000]
    # The emulator counts instructions (-icount): the same inference is the same instructions at both clocks ...
    assert low["worst_inference_instructions"] == high["worst_inference_instructions"]
    # ... while 3 wait states at 120 MHz against 4 at 150 MHz (RM0090 table 10) make fewer estimated cycles.
    assert low["worst_inference_cycles"] < high["worst_inference_cycles"]
    assert (low["check.timing.deadline_ms"], high["check.timing.deadline_ms"]) == ("fail", "pass")
    # The clock at which each point's own checked time would reach the deadline lies between the two clocks.
    for hz, m in metrics.items():
        f_star = m["deadline_checked_ms"] * hz / m["deadline_ms"]
        assert 120e6 < f_star < 150e6, (hz, f_star)
    # The fit table names the lowest swept clock that holds, and the one below it that failed.
    fit = {f.clock_mhz: f for f in fit_table(rows, "default")}
    assert (fit[120.0].holds, fit[150.0].holds) == (False, True)
    assert fit[120.0].lowest_measured == "150 MHz (of 2 swept; fails at 120 MHz)"
