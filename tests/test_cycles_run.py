"""The cycle model inside real runs (issue 15): every QEMU run of a board with a cycle model carries the estimate
beside its exact counts — consistent with the plugin's running total, deterministic run to run, costed per span and
per layer — and never changes an instruction count."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cosim_testing import needs_qemu

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.engines.qemu import cycleplugin
from tinyml_cosim.run import cycle_estimate
from tinyml_cosim.run.record import RunRecord, Status
from tinyml_cosim.run.session import RunRequest, run_firmware

needs_plugin = pytest.mark.skipif(
    cycleplugin.unavailable_reason() is not None, reason=str(cycleplugin.unavailable_reason())
)


def _run(elf: Path, cycles: bool = True, board: str = "stm32f405") -> RunRecord:
    return run_firmware(RunRequest(elf=elf, board=board, cycles=cycles, timeout_s=120))


@needs_qemu
@needs_plugin
def test_demo_estimate_is_consistent_deterministic_and_leaves_counts_alone(firmware: Callable[..., Path]) -> None:
    elf = firmware("demo")
    a, b, plain = _run(elf), _run(elf), _run(elf, cycles=False)
    assert a.status is Status.EXITED and a.cycles is not None and a.cycles_missing is None
    assert a.cycles.problems == [], a.cycles.problems  # the model's recomputation equals the plugin's total
    assert a.cycles == b.cycles and [s.cycles for s in a.spans] == [s.cycles for s in b.spans]
    # The plugin observes only: the run without it has the same exact counts and spans.
    assert plain.cycles is None and plain.cycles_missing == "not asked for (--no-cycles)"
    assert (a.instructions, [(s.begin, s.end) for s in a.spans]) == (
        plain.instructions,
        [(s.begin, s.end) for s in plain.spans],
    )
    inferences = [s for s in a.spans if s.name == "inference"]
    assert len(inferences) == 8 and a.cycles.spans_exact
    for s in inferences:
        assert s.cycles is not None and s.cycle_parts is not None
        assert sum(s.cycle_parts.values()) == s.cycles  # where the cycles go adds up to the span
        assert s.instructions <= s.cycles <= 3 * s.instructions  # a single-issue core: at least one per instruction
    c = a.cycles
    assert c.low <= c.total <= c.high and sum(c.categories.values()) == c.total
    assert c.functions[0].name == "main" and "RM0090" not in c.model and "5 wait states" in c.model


@needs_qemu
@needs_plugin
def test_model_runner_layers_are_costed_and_add_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cycle_estimate.CYCLES_ENV, raising=False)  # the default: on
    from test_model_runner_qemu import _model  # the MLPerf Tiny models, skipped when ../shared is absent

    from tinyml_cosim.orchestrate.model_check import build_runner, run_runner
    from tinyml_cosim.orchestrate.model_inputs import seeded_input

    board = load_board("stm32f405")
    rb = build_runner(_model("ad01_int8"), board)
    res = run_runner(rb, board, [seeded_input(rb.model.input.shape, rb.model.input.dtype, 0)], profile=True)
    rec = res.record
    assert rec.cycles is not None and rec.cycles.problems == []
    inference = next(s for s in rec.spans if s.name == "inference")
    layers = [s for s in rec.spans if s.name == "layer"]
    assert len(layers) == len(rb.model.layers)
    assert all(s.cycles is not None and sum((s.cycle_parts or {}).values()) == s.cycles for s in layers)
    # Layer spans hold the kernels' work only; the inference span holds them and the reporting between them.
    assert sum(s.cycles or 0 for s in layers) <= (inference.cycles or 0)
    assert sum(s.instructions for s in layers) <= inference.instructions


def test_runs_without_the_model_say_why(monkeypatch: pytest.MonkeyPatch) -> None:
    f405 = load_board("stm32f405")
    monkeypatch.delenv(cycle_estimate.CYCLES_ENV, raising=False)
    assert "engine renode has none" in (cycle_estimate.unavailable(f405, "renode") or "")
    monkeypatch.setenv(cycle_estimate.CYCLES_ENV, "off")
    assert cycle_estimate.unavailable(f405, "qemu") == "COSIM_CYCLES=off"
    assert cycle_estimate.unavailable(f405, "qemu", forced=True) != "COSIM_CYCLES=off"  # --cycles wins
    assert cycle_estimate.validation_text(load_board("stm32f205")).startswith("not validated")


@needs_qemu
@needs_plugin
def test_measured_calls_carry_estimated_cycles_from_the_same_stops() -> None:
    from foreign import build_foreign

    elf = build_foreign("cpp_virtual")
    rec = run_firmware(RunRequest(elf=elf, board="stm32f405", measure=("Dispatch",), timeout_s=120, cycles=True))
    again = run_firmware(RunRequest(elf=elf, board="stm32f405", measure=("Dispatch",), timeout_s=120, cycles=True))
    calls = rec.measurements
    assert calls and all(m.cycles is not None for m in calls)
    assert [m.cycles for m in calls] == [m.cycles for m in again.measurements]  # deterministic
    for m in calls:
        assert m.instructions <= (m.cycles or 0) <= 3 * m.instructions + 3
    plain = run_firmware(RunRequest(elf=elf, board="stm32f405", measure=("Dispatch",), timeout_s=120, cycles=False))
    assert [m.instructions for m in plain.measurements] == [m.instructions for m in calls]  # counts untouched
    assert all(m.cycles is None for m in plain.measurements)


@needs_qemu
@needs_plugin
def test_a_scenario_report_carries_the_estimate_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default (COSIM_CYCLES unset): report.json, junit.xml and report.html of a scenario on estimated cycles."""
    import json
    import xml.etree.ElementTree as ET

    from tinyml_cosim.orchestrate.scenario_runs import ScenarioRunRequest, run_scenario

    monkeypatch.delenv(cycle_estimate.CYCLES_ENV, raising=False)
    scenario = Path(__file__).parent / "data" / "scenarios" / "verdicts" / "shake_pass.yaml"
    out = tmp_path / "rep"
    assert run_scenario(ScenarioRunRequest(scenario, out=out)).exit_code == 0
    t = json.loads((out / "report.json").read_text())["timing"]
    assert t["time_basis"] == "estimated cycles" and t["cycles_per_instruction"] is None
    cmax = t["cycles"]["observed_maximum"]["value"]
    assert cmax >= t["instructions"]["observed_maximum"]["value"]
    assert t["deadline_checked_ms"] == pytest.approx(cmax * t["cycle_band"][1] / 168e6 * 1e3)
    props = {p.get("name"): p.get("value") for p in ET.parse(out / "junit.xml").getroot().iter("property")}
    assert props["time_basis"] == "estimated cycles" and props["estimated_cycles_observed_maximum"] == f"{cmax:.0f}"
    page = (out / "report.html").read_text()
    assert "estimated cycles per inference (cycle model of this exact binary" in page


@needs_qemu
@needs_plugin
def test_model_check_profile_costs_every_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    from test_model_runner_qemu import _model

    from tinyml_cosim.orchestrate.model_check import check_model

    monkeypatch.delenv(cycle_estimate.CYCLES_ENV, raising=False)
    report = check_model(_model("ad01_int8"), load_board("stm32f405"), vectors=1, profile=True)
    assert report["bit_exact"] and report["cycles_missing"] is None and "TRM" in str(report["cycle_model"])
    rows = report["layers_profile"]
    assert isinstance(rows, list) and len(rows) == 10  # AD01: ten FULLY_CONNECTED layers
    assert all(r["operator"] == "FULLY_CONNECTED" for r in rows)
    for r in rows:
        assert r["instructions"] <= r["estimated_cycles"] == sum(r["cycle_parts"].values())
    (per_inference,) = report["estimated_cycles_per_inference"]  # type: ignore[misc]
    assert sum(r["estimated_cycles"] for r in rows) <= per_inference * 1.01  # layer spans hold the kernels' work
