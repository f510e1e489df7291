"""The deadline verdict, reports and baselines on the cycle model's estimate (issue 15): no emulator, records built
by hand with the fields the engine fills in when the cycle plugin ran."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.report.junit import junit_xml
from tinyml_cosim.results.model import MemoryReport, Metric, Report, ScenarioInfo, TimingReport
from tinyml_cosim.run.record import CycleSummary, RunRecord, Span, Status
from tinyml_cosim.verdicts.baseline import compare
from tinyml_cosim.verdicts.evaluate import SeedRun, timing_section
from tinyml_cosim.verdicts.spec import parse_expect

CLOCK = 168_000_000


def _record(inferences: list[tuple[int, int]], layers: bool = False) -> RunRecord:
    """Inference spans of (instructions, estimated cycles), back to back; with `layers`, two layer spans in each."""
    spans: list[Span] = []
    t = 0
    for instr, cyc in inferences:
        spans.append(Span(name="inference", depth=0, begin=t, end=t + instr, cycles=cyc,
                          cycle_parts={"loads/stores": cyc // 2, "wait states": cyc - cyc // 2}))  # fmt: skip
        if layers:
            half = instr // 2
            spans.append(Span(name="layer", depth=1, begin=t, end=t + half, cycles=cyc // 3,
                              cycle_parts={"loads/stores": cyc // 3}))  # fmt: skip
            spans.append(Span(name="layer", depth=1, begin=t + half, end=t + instr, cycles=cyc - cyc // 3,
                              cycle_parts={"alu/mac": cyc - cyc // 3}))  # fmt: skip
        t += instr + 1000
    total = sum(c for _, c in inferences)
    summary = CycleSummary(
        total=total, low=int(total * 0.9), high=int(total * 1.2), instructions=t,
        categories={"loads/stores": total}, model="cortex-m4 (test)", validation="validated on nothing (test)",
    )  # fmt: skip
    return RunRecord(status=Status.EXITED, exit_code=0, board="stm32f405", engine="qemu", elf="x.elf",
                     elf_sha256="0", clock_hz=CLOCK, spans=spans, cycles=summary)  # fmt: skip


def test_deadline_uses_estimated_cycles_at_the_band_upper_end() -> None:
    # 1 ms of instructions but 2 ms of estimated cycles: the cycle estimate decides, at x1.2 (2.4 ms).
    rec = _record([(168_000, 336_000), (100_000, 200_000)])
    spec = parse_expect({"timing": {"deadline_ms": 2.2, "inference_ms": "<= 2.3"}})
    report, checks, results = timing_section([SeedRun(0, rec)], load_board("stm32f405"), spec, None)
    assert results[0].estimated and report.time_basis == "estimated cycles"
    assert report.cycles is not None and report.cycles["observed_maximum"].value == 336_000
    assert report.cycle_band == pytest.approx((0.9, 1.2))
    assert report.time_ms["observed_maximum"].value == pytest.approx(2.0)
    assert report.deadline_checked_ms == pytest.approx(2.4)
    assert report.cycles_per_instruction is None  # the borrowed factor is not used beside the estimate
    by_id = {c.id: c for c in checks}
    dl = by_id["timing.deadline_ms"]
    assert dl.failed and "336,000 estimated cycles" in dl.message and "168,000" in dl.message
    assert "upper end" in dl.message and "cortex-m4 (test)" in dl.message
    assert by_id["timing.inference_ms"].failed and by_id["timing.inference_ms"].actual == pytest.approx(2.4)
    spec = parse_expect({"timing": {"deadline_ms": 2.5}})
    _, checks, _ = timing_section([SeedRun(0, rec)], load_board("stm32f405"), spec, None)
    assert not checks[0].failed and "margin 4.0 %" in checks[0].message


def test_a_span_without_cycles_falls_back_to_the_documented_factor() -> None:
    rec = _record([(168_000, 336_000)])
    rec.spans.append(Span(name="inference", depth=0, begin=10**6, end=10**6 + 50))  # no estimate for this one
    report, _, results = timing_section([SeedRun(0, rec)], load_board("stm32f405"), parse_expect({}), None)
    assert not results[0].estimated and report.time_basis == "calibrated cycles" and report.cycles is None


def test_per_layer_table_sums_to_its_inference_and_reaches_every_report() -> None:
    rec = _record([(168_000, 300_000), (170_000, 360_000)], layers=True)
    spec = parse_expect({"timing": {"deadline_ms": 5}})
    report, _, _ = timing_section([SeedRun(0, rec)], load_board("stm32f405"), spec, None)
    assert [lay.cycles for lay in report.layers] == [120_000, 240_000]  # the longest inference's layers
    assert sum(lay.cycles for lay in report.layers) == 360_000
    assert [lay.instructions for lay in report.layers] == [85_000, 85_000]
    assert report.layers[1].parts == {"alu/mac": 240_000}


def _report(timing: TimingReport) -> Report:
    """The smallest report the baseline and JUnit writers read (no scenario was run)."""
    scenario = ScenarioInfo(name="s", path="s.yaml", sha256="0", board="stm32f405", engine="qemu", firmware="x.elf",
                            duration_s=1.0)  # fmt: skip
    memory = MemoryReport.model_construct(flash_used=1000, ram_used=100, stack_used=None, stack_static=None)
    return Report.model_construct(tool_version="t", verdict="pass", exit_code=0, scenario=scenario, seeds=[0],
                                  runs=[], checks=[], decisions=None, timing=timing, memory=memory, baseline=None,
                                  notes=[])  # fmt: skip


def test_baseline_compares_estimated_cycles() -> None:
    rec = _record([(168_000, 336_000)])
    old_t, _, _ = timing_section([SeedRun(0, rec)], load_board("stm32f405"), parse_expect({}), None)
    new_t = old_t.model_copy(
        update={
            "cycles": {k: Metric(value=(m.value or 0) * 1.05, unit="cycles") for k, m in (old_t.cycles or {}).items()}
        }
    )
    old, new = _report(old_t), _report(new_t)
    _, checks = compare(new, old, "old/report.json")
    by_id = {c.id: c for c in checks}
    assert by_id["baseline.cycles.observed_maximum"].failed and "+5.00 %" in by_id["baseline.cycles.median"].message
    assert not by_id["baseline.instructions.median"].failed
    plain = old_t.model_copy(update={"cycles": None})
    _, checks = compare(_report(plain), _report(plain), "x")
    assert not any(c.id.startswith("baseline.cycles") for c in checks)  # neither had the model: nothing to say


def test_junit_carries_the_estimate() -> None:
    rec = _record([(168_000, 336_000)])
    t, _, _ = timing_section([SeedRun(0, rec)], load_board("stm32f405"), parse_expect({}), None)
    xml = junit_xml(_report(t))
    props = {p.get("name"): p.get("value") for p in ET.fromstring(xml).iter("property")}
    assert props["time_basis"] == "estimated cycles" and props["estimated_cycles_observed_maximum"] == "336000"
