"""Verdicts without an emulator: alignment rules, metrics, confidence intervals, expectation parsing, timing
statistics, the linker-map reader, junit and the atomic report writer."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cosim_testing import needs_toolchain

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.elf.components import component_of_input as classify
from tinyml_cosim.elf.linkmap import InputSection, parse_map
from tinyml_cosim.report.writer import write_atomically
from tinyml_cosim.results.model import SCHEMA_PATH, schema_text
from tinyml_cosim.run.record import RecordedEvent, RunRecord, Span, Status
from tinyml_cosim.verdicts.decisions import (
    Alignment,
    Decision,
    Segment,
    decisions_from_record,
    evaluate_decisions,
    marks_from_record,
)
from tinyml_cosim.verdicts.evaluate import SeedRun, decision_section, proportion, timing_section
from tinyml_cosim.verdicts.expect import CheckStatus, ExpectationError, check, parse_comparison
from tinyml_cosim.verdicts.spec import parse_expect
from tinyml_cosim.verdicts.stats import mean_ci, wilson
from tinyml_cosim.verdicts.timing import evaluate_timing, window_loads

TRUTH = [Segment(0.0, 2.0, "idle"), Segment(2.0, 4.0, "shaking"), Segment(4.0, 6.0, "idle")]


def decisions(*pairs: tuple[float, str]) -> list[Decision]:
    return [Decision(i, t, c, None) for i, (t, c) in enumerate(pairs)]


def every(period: float, until: float, cls) -> list[Decision]:  # type: ignore[no-untyped-def]
    n = round(until / period)
    return decisions(*(((k + 1) * period, cls((k + 1) * period)) for k in range(n)))


# --- statistics ------------------------------------------------------------------------------------------------


def test_wilson_matches_the_closed_form_and_stays_in_unit_interval() -> None:
    lo, hi = wilson(5, 10)  # type: ignore[misc]
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = wilson(0, 10)  # type: ignore[misc]
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson(10, 10)  # type: ignore[misc]
    assert hi == 1.0 and lo == pytest.approx(0.7225, abs=1e-4)
    assert wilson(0, 0) is None
    with pytest.raises(ValueError):
        wilson(3, 2)


def test_wilson_agrees_with_the_score_formula_everywhere_and_widens_with_the_level() -> None:
    z = 1.959963984540054  # two-sided 95 % normal quantile
    for n in range(1, 41):
        for k in range(n + 1):
            p, z2 = k / n, z * z
            centre = (p + z2 / (2 * n)) / (1 + z2 / n)
            half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
            lo, hi = wilson(k, n)  # type: ignore[misc]
            assert lo == pytest.approx(0.0 if k == 0 else centre - half, abs=1e-12)
            assert hi == pytest.approx(1.0 if k == n else centre + half, abs=1e-12)
            assert 0.0 <= lo <= p <= hi <= 1.0
    lo95, hi95 = wilson(7, 20)  # type: ignore[misc]
    lo99, hi99 = wilson(7, 20, level=0.99)  # type: ignore[misc]
    assert lo99 < lo95 and hi99 > hi95


def test_mean_ci_is_student_t() -> None:
    m, lo, hi = mean_ci([1.0, 2.0, 3.0])  # type: ignore[misc]
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert m == 2.0 and lo == pytest.approx(2 - half) and hi == pytest.approx(2 + half)
    assert mean_ci([5.0]) == (5.0, 5.0, 5.0)
    assert mean_ci([]) is None


def test_proportion_pools_counts_over_seeds() -> None:
    m = proportion([(9, 10), (10, 10)])
    assert m.value == pytest.approx(0.95) and m.counts == (19, 20) and m.ci_method == "wilson"
    assert m.per_seed == [0.9, 1.0]
    assert m.ci95 == pytest.approx(wilson(19, 20))


# --- expectation expressions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "actual", "holds"),
    [(">= 0.95", 0.95, True), (">= 0.95", 0.94, False), ("<= 1", 1.0, True), ("< 1", 1.0, False),
     ("== 0", 0.0, True), ("!= 0", 0.0, False), ("> -1e-3", 0.0, True), ("<= 90%", 0.9, True)],
)  # fmt: skip
def test_comparisons(text: str, actual: float, holds: bool) -> None:
    assert parse_comparison(text, "x").holds(actual) is holds


@pytest.mark.parametrize("bad", ["0.95", "=> 0.9", ">= ", "about 1", 0.95, True, None])
def test_malformed_expectations_say_what_is_allowed(bad: object) -> None:
    with pytest.raises(ExpectationError, match=r"expect\.decision\.accuracy: .*(e\.g\.|comparison)"):
        parse_comparison(bad, "expect.decision.accuracy")


def test_expect_block_parsing_and_errors() -> None:
    spec = parse_expect(
        {
            "decision": {"accuracy": ">= 0.9", "grace_s": 0.3, "per_class": {"shaking": {"recall": ">= 0.8"}}},
            "timing": {"deadline_ms": 5, "cpu_load": "<= 0.5", "span": "infer"},
            "memory": {"fail_above_pct": 80, "limits": {"flash_bytes": 1024}, "stack_bytes": "<= 2048"},
        }
    )
    assert spec.alignment.grace_s == 0.3 and spec.decision["accuracy"].value == 0.9
    assert spec.per_class["shaking"]["recall"].op == ">="
    assert spec.deadline_ms == 5.0 and spec.timing_cfg.span == "infer" and "cpu_load" in spec.timing
    assert spec.memory_policy.fail_above_pct == 80 and spec.memory_policy.limits.flash_bytes == 1024
    with pytest.raises(BadInput, match=r"expect\.decision\.acuracy: unknown key 'acuracy'; allowed: accuracy"):
        parse_expect({"decision": {"acuracy": ">= 0.9"}})
    with pytest.raises(BadInput, match=r"expect\.decision\.straddle"):
        parse_expect({"decision": {"straddle": "sometimes"}})
    with pytest.raises(BadInput, match=r"deadline_ms: '5 ms' must be a positive number"):
        parse_expect({"timing": {"deadline_ms": "5 ms"}})
    with pytest.raises(BadInput, match=r"per_class\.shaking\.accuracy: unknown key 'accuracy'"):
        parse_expect({"decision": {"per_class": {"shaking": {"accuracy": ">= 1"}}}})
    with pytest.raises(BadInput, match=r"warn_above_pct: must not be above fail_above_pct"):
        parse_expect({"memory": {"warn_above_pct": 95}})


def test_check_names_actual_and_expected() -> None:
    c = check(
        "decision.accuracy", "decision", parse_comparison(">= 0.95", "x"), 0.9, ci=(0.8, 0.96), ci_method="wilson"
    )
    assert c.status is CheckStatus.FAIL and "actual 0.9, expected >= 0.95" in c.message and "wilson" in c.message
    missing = check("decision.detection_latency_ms", "decision", parse_comparison("<= 5", "x"), None, why_missing="m")
    assert missing.failed and "not measured (m)" in missing.message


# --- alignment -----------------------------------------------------------------------------------------------


def perfect(t: float) -> str:
    return "shaking" if 2.0 < t <= 4.0 else "idle"


def test_perfect_decisions_score_everything_outside_grace() -> None:
    res = evaluate_decisions(every(0.2, 6.0, perfect), TRUTH, 6.0, Alignment(window_s=0.2, debounce_s=0.0))
    assert res.alignment.grace_s == pytest.approx(0.2)
    assert res.accuracy == 1.0 and res.missed() == 0 and res.false_alarms == []
    assert res.latency_max_s() == pytest.approx(0.2)  # first decision of the event at 2.2 s
    assert res.confusion["shaking"]["shaking"] == res.recall_counts("shaking")[1]


def test_grace_tolerates_the_old_and_new_label_but_not_a_third() -> None:
    ds = decisions((2.1, "idle"), (2.3, "shaking"), (2.35, "walking"), (3.0, "idle"))
    res = evaluate_decisions(ds, TRUTH, 6.0, Alignment(window_s=0.2, debounce_s=0.2))
    assert res.alignment.grace_s == pytest.approx(0.4)  # window + debounce
    assert [s.status for s in res.scored] == ["grace", "grace", "scored", "scored"]
    assert res.n_correct == 0 and res.n_scored == 2  # walking in grace is wrong; idle at 3.0 is wrong


@pytest.mark.parametrize(
    ("straddle", "status", "truth", "correct"),
    [
        ("majority", "scored", "shaking", False),
        ("ignore", "straddle", "shaking", False),
        ("either", "scored", "idle", True),
    ],
)
def test_straddling_window_policies(straddle: str, status: str, truth: str, correct: bool) -> None:
    # window [1.9, 2.5] straddles the change at 2.0 (0.1 s idle, 0.5 s shaking); grace 0 so only the policy decides
    ds = decisions((2.5, "idle"))
    res = evaluate_decisions(ds, TRUTH, 6.0, Alignment(window_s=0.6, grace_s=0.0, straddle=straddle))  # type: ignore[arg-type]
    s = res.scored[0]
    assert (s.status, s.truth, s.correct) == (status, truth, correct)


def test_missed_event_false_alarms_and_latency() -> None:
    # never shaking during the event; one shaking alarm at 5.0 s, after the event's tolerance
    ds = decisions((1.0, "idle"), (3.0, "idle"), (5.0, "shaking"), (5.2, "shaking"), (5.4, "idle"))
    res = evaluate_decisions(ds, TRUTH, 3600.0, Alignment(window_s=0.2, debounce_s=0.0, tolerance_s=0.5))
    assert res.missed() == 1 and res.latency_max_s() is None
    assert res.false_alarms == [5.0]  # one alarm for the run of two shaking decisions
    assert res.false_alarms_per_hour == pytest.approx(1.0)
    assert res.precision_counts("shaking") == (0, 2) and res.recall_counts("shaking") == (0, 1)


def test_late_detection_within_tolerance_counts_with_its_latency() -> None:
    ds = decisions((1.0, "idle"), (4.3, "shaking"), (4.5, "idle"))
    res = evaluate_decisions(ds, TRUTH, 6.0, Alignment(window_s=0.2, tolerance_s=0.5))
    assert res.missed() == 0 and res.latency_max_s() == pytest.approx(2.3) and res.false_alarms == []


def test_unlabelled_time_is_not_scored_and_background_defaults_to_first_segment() -> None:
    truth = [Segment(1.0, 2.0, "idle"), Segment(2.0, 3.0, "tap")]
    res = evaluate_decisions(decisions((0.5, "tap"), (2.5, "tap")), truth, 3.0, Alignment(window_s=0.1))
    assert res.scored[0].status == "unlabelled" and res.alignment.background == "idle"
    assert res.alignment.sources["background"] == "first timeline segment"


def record(events: list[RecordedEvent], spans: list[Span] | None = None, clock: int = 1000) -> RunRecord:
    return RunRecord(
        status=Status.EXITED, exit_code=0, board="stm32f405", engine="qemu", elf="x.elf", elf_sha256="0",
        clock_hz=clock, events=events, spans=spans or [],
    )  # fmt: skip


def test_decisions_and_marks_come_from_the_record() -> None:
    rec = record(
        [
            RecordedEvent(kind="MARK", instructions=1, fields={"name": "window_ms", "value": "200"}),
            RecordedEvent(kind="DECISION", instructions=500, fields={"class": "idle", "score": "-3"}),
        ]
    )
    (d,) = decisions_from_record(rec)
    assert d.t_s == 0.5 and d.cls == "idle" and d.score == -3
    assert marks_from_record(rec) == {"window_ms": 200}
    res = evaluate_decisions([d], TRUTH, 6.0, Alignment(), marks_from_record(rec))
    assert res.alignment.window_s == 0.2 and res.alignment.sources["window_s"] == "firmware MARK window_ms"


def test_decision_section_over_two_seeds_pools_and_takes_worst_latency() -> None:
    def rec_for(detect_at: float) -> RunRecord:
        ev = [RecordedEvent(kind="DECISION", instructions=int(t * 1000), fields={"class": perfect(t)}) for t in (1, 3)]
        ev.append(RecordedEvent(kind="DECISION", instructions=int(detect_at * 1000), fields={"class": "shaking"}))
        ev.sort(key=lambda e: e.instructions)
        return record(ev)

    spec = parse_expect({"decision": {"window_s": 0.1, "detection_latency_ms": "<= 400", "accuracy": ">= 0.5"}})
    report, checks, _ = decision_section([SeedRun(1, rec_for(2.2)), SeedRun(2, rec_for(2.5))], TRUTH, 6.0, spec)
    lat = report.metrics["detection_latency_ms"]
    assert lat.value == pytest.approx(500) and lat.per_seed == pytest.approx([200, 500]) and lat.ci_method == "t"
    by_id = {c.id: c for c in checks}
    assert by_id["decision.detection_latency_ms"].failed
    assert "actual 500 ms, expected <= 400" in by_id["decision.detection_latency_ms"].message
    assert report.metrics["accuracy"].counts == (6, 6)


# --- timing --------------------------------------------------------------------------------------------------


def test_timing_statistics_observed_maximum_and_window_load() -> None:
    counts = [100, 120, 110, 400, 105]
    spans = [
        Span(name="inference", depth=0, begin=1000 * (k + 1) - c, end=1000 * (k + 1)) for k, c in enumerate(counts)
    ]
    spans += [Span(name="acquire", depth=0, begin=1000 * k + 500, end=1000 * k + 550) for k in range(5)]
    spans += [Span(name="inner", depth=1, begin=950, end=960)]  # nested: not counted again
    res = evaluate_timing(record([], spans, clock=1_000_000), load_board("stm32f405"), window_s=0.001)
    st = res.stats()
    assert st == {"min": 100, "median": 110.0, "p99": 400.0, "observed_maximum": 400}
    assert res.observed_max_index == 3 and res.ends_s[3] == pytest.approx(0.004)
    assert res.factor.calibrated and res.factor.kernels == "ref"  # the F405's silicon factor (ref by default)
    m3 = evaluate_timing(record([], spans, clock=1_000_000), load_board("stm32f205"), window_s=0.001)
    assert not m3.factor.calibrated and "Cortex-M3" in m3.factor.provenance
    assert m3.factor.describe().startswith("instruction time") and m3.seconds(400) == pytest.approx(400e-6)
    assert [w.busy_instructions for w in res.windows] == [150, 170, 160, 450, 155]
    assert res.max_load.load == pytest.approx(0.45)  # type: ignore[union-attr]
    assert window_loads(spans, [], 0.001, 1_000_000) == []


def test_deadline_check_reports_margin_and_time_basis() -> None:
    spans = [Span(name="inference", depth=0, begin=0, end=120_000)]  # 1 ms at 120 MHz
    rec = record([], spans, clock=120_000_000)
    spec = parse_expect({"timing": {"deadline_ms": 2}})
    report, checks, _ = timing_section([SeedRun(0, rec)], load_board("stm32f205"), spec, None)  # no silicon data
    assert report.deadline_margin_pct == pytest.approx(50.0) and report.time_basis == "instruction time"
    assert report.cycles_per_instruction is None and report.factor_band is None
    assert checks[0].status is CheckStatus.PASS and "margin 50.0 %" in checks[0].message
    assert "Cortex-M3" in checks[0].message  # says why there is no factor
    spec = parse_expect({"timing": {"deadline_ms": 0.5}})
    _, checks, _ = timing_section([SeedRun(0, rec)], load_board("stm32f205"), spec, None)
    assert checks[0].failed and "vs deadline 0.5 ms: margin -100.0 %" in checks[0].message


@pytest.mark.parametrize("kernels", ["ref", "cmsis-nn"])
def test_calibrated_deadline_is_checked_at_the_band_upper_end(kernels: str) -> None:
    board = load_board("stm32f405")
    f = board.silicon.kernels[kernels]  # type: ignore[union-attr]
    n = 168_000  # 1 ms of instruction time at 168 MHz
    rec = record([], [Span(name="inference", depth=0, begin=0, end=n)], clock=168_000_000)
    # A deadline between the time at the factor and the time at the band's upper end: it must fail (unsafe side).
    deadline = (f.cycles_per_instruction + f.band.high) / 2
    spec = parse_expect({"timing": {"deadline_ms": deadline, "kernels": kernels, "inference_ms": "<= 100"}})
    report, checks, _ = timing_section([SeedRun(0, rec)], board, spec, None)
    assert report.time_basis == "calibrated cycles" and report.kernels == kernels
    assert report.cycles_per_instruction == f.cycles_per_instruction
    assert report.factor_band == (f.band.low, f.band.high)
    assert report.time_ms["observed_maximum"].value == pytest.approx(f.cycles_per_instruction)
    assert report.time_ms_band["observed_maximum"] == pytest.approx((f.band.low, f.band.high))  # type: ignore[index]
    assert report.deadline_checked_ms == pytest.approx(f.band.high)
    by_id = {c.id: c for c in checks}
    dl = by_id["timing.deadline_ms"]
    assert dl.failed and dl.actual == pytest.approx(f.band.high)
    assert "checked at the band's upper end (the unsafe side)" in dl.message and "NUCLEO-L4R5ZI" in dl.message
    assert f"{f.cycles_per_instruction:g} cycles/instruction" in dl.message and f"{f.band.high:g}" in dl.message
    assert "instructions" in dl.message and "cycles (" not in dl.message  # counts are never called cycles
    assert "band" in report.factor_summary and "source" in report.factor_summary
    ms = by_id["timing.inference_ms"]
    assert not ms.failed and ms.actual == pytest.approx(f.band.high) and "upper end" in ms.message
    spec = parse_expect({"timing": {"deadline_ms": f.band.high * 1.01, "kernels": kernels}})
    _, checks, _ = timing_section([SeedRun(0, rec)], board, spec, None)
    assert not checks[0].failed


def test_unknown_kernel_set_in_expect_is_refused() -> None:
    with pytest.raises(ExpectationError, match=r"expect\.timing\.kernels"):
        parse_expect({"timing": {"kernels": "arm-magic"}})


def test_board_silicon_block_is_validated(tmp_path: Path) -> None:
    from tinyml_cosim.core.boards import board_path
    from tinyml_cosim.core.boards import load_board as load

    text = board_path("stm32f405").read_text()
    bad = tmp_path / "stm32f405.yaml"
    bad.write_text(text.replace("cycles_per_instruction: 0.6743", "cycles_per_instruction: 7.5"))
    with pytest.raises(BadInput, match="inside the band"):
        load(bad)
    bad.write_text(text.replace("silicon:\n  core: cortex-m4", "silicon:\n  core: cortex-m3"))
    with pytest.raises(BadInput, match="per core"):
        load(bad)
    assert "silicon" not in load_board("stm32f405").model_dump_json()  # not in the build key: no rebuilds


# --- memory --------------------------------------------------------------------------------------------------

MAP = """\
Archive member included to satisfy reference by file (symbol)

Linker script and memory map

LOAD /b/obj/boards/cortex_m/startup.o
.isr_vector     0x08000000      0x188
 *(.isr_vector)
 .isr_vector    0x08000000      0x188 /b/obj/boards/cortex_m/startup.o
                0x08000000                cosim_vectors

.text           0x08000188      0x400
 *(.text*)
 .text.Reset_Handler
                0x08000188       0xb8 /b/obj/boards/cortex_m/startup.o
                0x08000188                Reset_Handler
 .text.main     0x08000240      0x100 /b/obj//work/firmware/apps/x/main.o
 *fill*         0x08000340        0x4
 .text.memcpy   0x08000344       0x40 /usr/lib/arm-none-eabi/lib/libc_nano.a(lib_a-memcpy.o)
 .rodata.weights
                0x08000384      0x100 /b/obj//work/build/models/m/model.o
 .text.conv     0x08000484       0x80 /b/obj/nn/ref/conv.o

.stack          0x20000000     0x2000
 *fill*         0x20000000     0x2000
.bss            0x20002000       0x10 load address 0x08000588
 COMMON         0x20002000       0x10 /b/obj/hal/cosim_runtime.o
"""


def test_map_reader_attributes_input_sections_to_components() -> None:
    secs = parse_map(MAP)
    comps = [(s.output, s.name, s.size, classify(s)) for s in secs]
    assert comps == [
        (".isr_vector", ".isr_vector", 0x188, "runtime"),
        (".text", ".text.Reset_Handler", 0xB8, "runtime"),
        (".text", ".text.main", 0x100, "application"),
        (".text", "*fill*", 4, "padding"),
        (".text", ".text.memcpy", 0x40, "libc"),
        (".text", ".rodata.weights", 0x100, "model weights"),
        (".text", ".text.conv", 0x80, "kernels"),
        (".stack", "*fill*", 0x2000, "stack (reserved)"),
        (".bss", "COMMON", 0x10, "runtime"),
    ]
    assert classify(InputSection(".text", ".text.f", 0, 4, "/b/obj//m/model.o")) == "kernels"
    assert parse_map("no map here") == []


@needs_toolchain
def test_memory_of_a_real_build_adds_up(firmware) -> None:  # type: ignore[no-untyped-def]
    from tinyml_cosim.elf.image import load_image
    from tinyml_cosim.verdicts.memory import MemoryPolicy, evaluate_memory

    board = load_board("stm32f405")
    elf = firmware("threshold_detector")
    res = evaluate_memory(load_image(elf, board), board, MemoryPolicy())
    assert sum(res.components_flash.values()) == res.flash_used
    assert sum(res.components_ram.values()) == res.ram_used
    assert res.components_ram["stack (reserved)"] == res.stack_reserved == 8192
    assert {"application", "runtime", "libc"} <= set(res.components_flash)
    assert res.flash_limit == board.memory.flash.size and res.map_file is not None
    elf_copy = Path(elf).parent / "nonexistent" / "app.elf"
    assert not elf_copy.exists()


# --- reports -------------------------------------------------------------------------------------------------


def test_published_report_schema_is_up_to_date() -> None:
    assert SCHEMA_PATH.read_text() == schema_text(), "run: python -m tinyml_cosim.results.model --write"


def test_interrupted_write_leaves_no_report_and_keeps_the_old_one(tmp_path: Path) -> None:
    out = tmp_path / "rep"

    def good(d: Path) -> None:
        (d / "report.json").write_text("{}")

    write_atomically(out, good)

    def interrupted(d: Path) -> None:
        (d / "report.json").write_text('{"half')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(out, interrupted)
    assert (out / "report.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]
    with pytest.raises(KeyboardInterrupt):
        write_atomically(tmp_path / "new", interrupted)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_junit_has_one_testcase_per_check_and_failures_say_actual_vs_expected() -> None:
    from tinyml_cosim.report.junit import junit_xml
    from tinyml_cosim.results.model import MemoryReport, Report, ScenarioInfo

    c1 = check("decision.accuracy", "decision", parse_comparison(">= 0.95", "x"), 0.8)
    c2 = check("memory.stack_bytes", "memory", parse_comparison("<= 2048", "x"), 512.0, "bytes")
    mem = MemoryReport(
        elf="a", map_file=None, sections=[], components_flash={}, components_ram={}, flash_used=1, flash_limit=2,
        flash_pct=50, ram_used=1, ram_limit=2, ram_pct=50, static_ram=1, stack_reserved=0, limit_source="b",
        fail_above_pct=90, warn_above_pct=70,
    )  # fmt: skip
    rep = Report(
        tool_version="t", verdict="fail", exit_code=1, seeds=[1], runs=[], checks=[c1, c2], memory=mem,
        scenario=ScenarioInfo(name="s", path="s.yaml", sha256="0", board="b", engine="qemu", firmware="f",
                              duration_s=1),
    )  # fmt: skip
    root = ET.fromstring(junit_xml(rep))
    assert root.tag == "testsuite" and root.get("tests") == "2" and root.get("failures") == "1"
    cases = root.findall("testcase")
    assert [c.get("name") for c in cases] == ["decision.accuracy", "memory.stack_bytes"]
    fail = cases[0].find("failure")
    assert fail is not None and fail.get("message") == "actual 0.8, expected >= 0.95"
    assert cases[1].find("failure") is None


@needs_toolchain
def test_memory_policy_warns_between_the_levels_and_fails_above(firmware) -> None:  # type: ignore[no-untyped-def]
    from tinyml_cosim.elf.image import load_image
    from tinyml_cosim.verdicts.evaluate import memory_section

    board = load_board("stm32f405")
    image = load_image(firmware("threshold_detector"), board)
    ram = sum(s.size for s in image.sections if board.memory.ram.contains(s.address, 1))
    spec = parse_expect({"memory": {"limits": {"ram_bytes": int(ram / 0.8)}, "stack_bytes": "<= 100"}})
    _, checks, res = memory_section(image, board, spec, stack_used=512)
    by_id = {c.id: c for c in checks}
    assert (
        by_id["memory.ram"].status is CheckStatus.WARN
        and "fits, above the warning level" in by_id["memory.ram"].message
    )
    assert by_id["memory.flash"].status is CheckStatus.PASS
    assert by_id["memory.stack"].status is CheckStatus.PASS and "512 of 8192 bytes" in by_id["memory.stack"].message
    assert (
        by_id["memory.stack_bytes"].failed
        and "actual 512 bytes, expected <= 100" in by_id["memory.stack_bytes"].message
    )
    assert res.limit_source == "scenario expect.memory.limits"
    spec = parse_expect({"memory": {"fail_above_pct": 5, "warn_above_pct": 3}})
    _, checks, _ = memory_section(image, board, spec, stack_used=None)
    # RAM is ~6.6 % of the board's (the QEMU build has no 8 KiB mailbox buffer); no measured stack, but the static
    # worst case (~2.5 KB of 8 KB) is above 5 % too
    assert [c.id for c in checks if c.failed] == ["memory.ram", "memory.stack_static"]


def test_boards_json_carries_each_boards_silicon_calibration() -> None:
    import json

    from typer.testing import CliRunner

    from tinyml_cosim.cli.app import app

    res = CliRunner().invoke(app, ["boards", "--json"])
    assert res.exit_code == 0
    by_id = {b["id"]: b for b in json.loads(res.output)}
    for board_id, entry in by_id.items():
        silicon = load_board(board_id).silicon
        assert entry["silicon"] == (silicon.model_dump(mode="json") if silicon else None)
    f405, f205 = by_id["stm32f405"]["silicon"], by_id["stm32f205"]["silicon"]
    ref = f405["kernels"]["ref"]
    assert ref["band"]["low"] < ref["cycles_per_instruction"] < ref["band"]["high"] and ref["source"]
    assert f205["kernels"] == {} and "Cortex-M3" in f205["unavailable"]
