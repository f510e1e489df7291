"""Scenario runs end to end on QEMU: the threshold detector against its scenarios, the report files, exit codes,
several seeds in parallel, and Ctrl-C in the middle of a run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from cosim_testing import alive, cycles_unavailable, emulators_below, needs_qemu, needs_toolchain
from typer.testing import CliRunner

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.orchestrate.scenario_runs import ScenarioRunRequest, run_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "data" / "scenarios" / "verdicts"
PYTHON = sys.executable

pytestmark = needs_qemu


def failed_ids(report) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.id for c in report.checks if c.status.value == "fail"]


def test_passing_scenario_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    outcome = run_scenario(ScenarioRunRequest(SCENARIOS / "shake_pass.yaml", out=out))
    r = outcome.report
    assert outcome.exit_code == 0 and r.verdict == "pass" and failed_ids(r) == []
    # .cosim-report.json: the files the tool wrote there (core.files, the --out contract)
    assert sorted(p.name for p in out.iterdir()) == [
        ".cosim-report.json", "console-seed11.log", "junit.xml", "report.html", "report.json", "run-seed11.json",
        "worst-window-accel.bin", "worst-window.json",
    ]  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]  # no temporary directory left

    data = json.loads((out / "report.json").read_text())
    assert data["report_version"] == 1 and data["verdict"] == "pass" and data["exit_code"] == 0
    d = data["decisions"]
    assert d["alignment"]["window_s"] == 0.2 and d["alignment_sources"]["window_s"] == "firmware MARK window_ms"
    assert d["alignment"]["grace_s"] == pytest.approx(0.4)  # one window + the stated 200 ms debounce
    assert d["metrics"]["accuracy"]["value"] == 1.0 and d["metrics"]["accuracy"]["ci_method"] == "wilson"
    (event,) = d["events"]
    assert event["label"] == "shaking" and 200 < event["latency_ms"] <= 500
    t = data["timing"]
    # The cycle model ran (QEMU, stm32f405 has a cycle_model): times are estimated cycles of the exact binary, the
    # deadline is checked at the band's upper end; the borrowed factor is not used beside them.
    # Without the plugin (no qemu-plugin.h on the machine), the documented fallback: the board's factor.
    estimated = cycles_unavailable() is None
    assert t["inferences"] == 30 and t["kernels"] == "ref"
    if estimated:
        assert t["time_basis"] == "estimated cycles" and "TRM" in t["cycle_model"]
        assert t["cycles_per_instruction"] is None and t["factor_band"] is None
        cmax = t["cycles"]["observed_maximum"]["value"]
        assert cmax >= t["instructions"]["observed_maximum"]["value"]  # single-issue: >= 1 cycle per instruction
        assert t["deadline_checked_ms"] == pytest.approx(cmax * t["cycle_band"][1] / 168e6 * 1e3)  # the upper end
        assert t["time_ms"]["observed_maximum"]["value"] == pytest.approx(cmax / 168e6 * 1e3)
    else:
        assert t["time_basis"] == "calibrated cycles" and t["cycles"] is None
        assert t["cycles_per_instruction"] == 0.6743 and t["factor_band"] == [0.4186, 1.0862]
        omax = t["instructions"]["observed_maximum"]["value"]
        assert t["deadline_checked_ms"] == pytest.approx(omax * 1.0862 / 168e6 * 1e3)  # the band's upper end
    assert t["observed_maximum_at"]["instructions"] == t["instructions"]["observed_maximum"]["value"]
    assert 0 < t["deadline_margin_pct"] < 100
    m = data["memory"]
    assert 0 < m["stack_used"] < m["stack_reserved"] and m["flash_used"] == sum(m["components_flash"].values())
    st = m["stack_static"]  # the static worst case beside the high-water mark, bounding it
    assert st["available"] and st["worst_bytes"] >= m["stack_used"] and st["unknown"] == []
    assert st["thread"]["path"][:2] == ["Reset_Handler", "main"] and [lv["frame_bytes"] for lv in st["levels"]] == [
        108, 108, 108,
    ]  # fmt: skip
    (run,) = data["runs"]
    assert run["status"] == "exited" and run["fingerprint"] and run["provenance"]["seed"] == 11

    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "src" / "tinyml_cosim" / "schemas" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(data, schema)

    suite = ET.parse(out / "junit.xml").getroot()
    assert int(suite.get("tests", "0")) == len(data["checks"]) and suite.get("failures") == "0"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    if estimated:
        assert props["time_basis"] == "estimated cycles" and "cycles_per_instruction" not in props
        assert props["estimated_cycles_observed_maximum"] == f"{cmax:.0f}" and "TRM" in props["cycle_model"]
        assert "validated" in props["cycle_validation"]
    else:
        assert props["cycles_per_instruction"] == "0.6743" and "NUCLEO-L4R5ZI" in props["factor_source"]
    assert {c.get("name") for c in suite.iter("testcase")} >= {"decision.accuracy", "timing.deadline_ms"}

    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "http://" not in page and "https://" not in page
    assert "observed maximum" in page and "WCET" in page  # says what the maximum is not
    if estimated:
        assert "estimated cycles per inference (cycle model of this exact binary" in page
        assert "silicon factor" not in page
    else:
        assert "0.6743</b> cycles per instruction, band 0.4186 .. 1.0862; source: TFLM reference" in page
    assert "BOOT app=threshold_detector" in (out / "console-seed11.log").read_text()


@pytest.mark.parametrize(
    ("scenario", "fails", "message"),
    [
        (
            "shake_weak_fails_decisions.yaml",
            ["decision.accuracy", "decision.detection_latency_ms", "decision.missed_events",
             "decision.per_class.shaking.recall", "decision.per_class.shaking.precision"],
            "decision.missed_events: actual 1, expected == 0",
        ),
        ("shake_deadline_fails.yaml", ["timing.deadline_ms"], "vs deadline 0.01 ms: margin -"),
        ("shake_small_part_fails_memory.yaml", ["memory.flash", "memory.ram"], "of 8192 bytes = "),
    ],
)  # fmt: skip
def test_failing_variants_say_actual_vs_expected(tmp_path: Path, scenario: str, fails: list[str], message: str) -> None:
    outcome = run_scenario(ScenarioRunRequest(SCENARIOS / scenario, out=tmp_path / "rep"))
    assert outcome.exit_code == 1 and outcome.report.verdict == "fail"
    assert failed_ids(outcome.report) == fails
    messages = " | ".join(c.message for c in outcome.report.checks)
    assert message in messages
    suite = ET.parse(tmp_path / "rep" / "junit.xml").getroot()
    failures = [c.find("failure") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert len(failures) == len(fails)
    assert all(f.get("message", "").startswith("actual ") and ", expected " in f.get("message", "") for f in failures)


def test_two_seeds_run_in_parallel_with_confidence_intervals(tmp_path: Path) -> None:
    outcome = run_scenario(ScenarioRunRequest(SCENARIOS / "shake_pass.yaml", out=tmp_path / "rep", seeds=2))
    r = outcome.report
    assert r.seeds == [11, 12] and outcome.exit_code == 0
    assert len({run.fingerprint for run in r.runs}) == 2
    lat = r.decisions.metrics["detection_latency_ms"]
    assert len(lat.per_seed) == 2 and lat.value == max(lat.per_seed) and lat.ci_method == "t"
    acc = r.decisions.metrics["accuracy"]
    assert acc.counts is not None and acc.counts[1] > 30 and acc.ci_method == "wilson"
    assert (tmp_path / "rep" / "run-seed12.json").is_file()


def test_replay_re_evaluates_recorded_runs_without_the_emulator(tmp_path: Path) -> None:
    first = run_scenario(ScenarioRunRequest(SCENARIOS / "shake_pass.yaml", out=tmp_path / "a")).report
    data = yaml.safe_load((SCENARIOS / "shake_pass.yaml").read_text())
    data["expect"]["decision"]["detection_latency_ms"] = "<= 300"  # tighter than the recorded 395 ms
    (tmp_path / "strict.yaml").write_text(yaml.safe_dump(data))
    out = run_scenario(ScenarioRunRequest(tmp_path / "strict.yaml", out=tmp_path / "b", replay=tmp_path / "a"))
    r = out.report
    assert out.exit_code == 1 and failed_ids(r) == ["decision.detection_latency_ms"]
    assert [x.fingerprint for x in r.runs] == [x.fingerprint for x in first.runs]
    assert any("scenario file changed" in n for n in r.notes) and any("no emulator ran" in n for n in r.notes)
    rec = json.loads((tmp_path / "a" / "run-seed11.json").read_text())
    rec["elf_sha256"] = "0" * 64
    (tmp_path / "a" / "run-seed11.json").write_text(json.dumps(rec))
    with pytest.raises(BadInput, match="recorded with an ELF of SHA-256 000000000000"):
        run_scenario(ScenarioRunRequest(tmp_path / "strict.yaml", out=tmp_path / "c", replay=tmp_path / "a"))
    with pytest.raises(BadInput, match="no recorded runs"):
        run_scenario(ScenarioRunRequest(tmp_path / "strict.yaml", out=tmp_path / "d", replay=tmp_path))


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "tinyml_cosim.cli.scenario_run", *args], capture_output=True, text=True, cwd=cwd, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip


def test_cli_exit_codes_and_json(tmp_path: Path) -> None:
    p = run_cli(str(SCENARIOS / "shake_deadline_fails.yaml"), "--json", "--out", str(tmp_path / "a"), cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    assert json.loads(p.stdout)["verdict"] == "fail"
    bad = yaml.safe_load((SCENARIOS / "shake_pass.yaml").read_text())
    bad["expect"]["decision"]["accuracy"] = 0.9  # a bare number: which way?
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    p = run_cli(str(tmp_path / "bad.yaml"), cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    line = next(n for n, text in enumerate((tmp_path / "bad.yaml").read_text().splitlines(), 1) if "accuracy" in text)
    assert f"bad.yaml:{line}: expect.decision.accuracy: 0.9 is not an expectation" in p.stderr
    p = run_cli(str(tmp_path / "missing.yaml"), cwd=tmp_path)
    assert p.returncode == 2 and "no such scenario file" in p.stderr
    assert not (tmp_path / "reports").exists()


def test_expect_decision_without_timeline_is_bad_input(tmp_path: Path) -> None:
    data = yaml.safe_load((SCENARIOS / "shake_pass.yaml").read_text())
    del data["timeline"]
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(BadInput, match=r"expect\.decision needs a timeline"):
        run_scenario(ScenarioRunRequest(tmp_path / "s.yaml", out=tmp_path / "rep"))
    assert not (tmp_path / "rep").exists()


@pytest.mark.parametrize("seeds", [1, 2])
def test_sigint_during_a_scenario_run_leaves_no_emulator_and_no_report(tmp_path: Path, seeds: int) -> None:
    data = yaml.safe_load((SCENARIOS / "shake_pass.yaml").read_text())
    data["duration_s"] = 900.0  # minutes of wall time on QEMU: it is interrupted long before the end
    (tmp_path / "long.yaml").write_text(yaml.safe_dump(data))
    out = tmp_path / "rep"
    proc = subprocess.Popen(
        [PYTHON, "-m", "tinyml_cosim.cli.scenario_run", str(tmp_path / "long.yaml"), "--out", str(out), "--seeds",
         str(seeds)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    try:
        emulators: list[int] = []
        deadline = time.monotonic() + 60
        while len(emulators) < seeds and time.monotonic() < deadline and proc.poll() is None:
            emulators = emulators_below(proc.pid)
            time.sleep(0.05)
        assert emulators, f"no emulator started: {proc.stderr.read() if proc.poll() is not None else ''}"
        time.sleep(0.5)  # let the run get going
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1 and "interrupted: emulators stopped, no report written" in err
    gone = time.monotonic() + 5
    while any(alive(p) for p in emulators) and time.monotonic() < gone:
        time.sleep(0.05)
    assert not any(alive(p) for p in emulators), "emulator left running after SIGINT"
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.yaml"], err


@needs_toolchain
def test_memory_command(firmware) -> None:  # type: ignore[no-untyped-def]
    import typer

    from tinyml_cosim.cli.memory import memory_command

    app = typer.Typer()
    app.command()(memory_command)
    elf = str(firmware("threshold_detector"))
    r = CliRunner().invoke(app, [elf, "--board", "stm32f405"])
    assert r.exit_code == 0, r.output
    assert "flash" in r.output and "runtime" in r.output and "stack (reserved)" in r.output
    r = CliRunner().invoke(
        app, [elf, "--board", "stm32f405", "--json", "--fail-above-pct", "5", "--warn-above-pct", "1"]
    )
    assert r.exit_code == 1 and json.loads(r.output)["fits"] is False
    r = CliRunner().invoke(app, ["/nonexistent.elf", "--board", "stm32f405"])
    assert r.exit_code == 2
