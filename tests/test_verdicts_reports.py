"""Scenario reports beyond the verdicts: baselines (`--baseline`: growth of instruction counts and memory beyond the
threshold fails, an improvement passes) and runs that crash or fault (the report still says what happened, with
the right exit code). One QEMU run of shake_pass is shared; the baseline comparisons replay it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cosim_testing import needs_qemu

from tinyml_cosim.core.errors import BadInput, EngineError
from tinyml_cosim.orchestrate.scenario_runs import ScenarioRunRequest, run_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "data" / "scenarios" / "verdicts"
PASS = SCENARIOS / "shake_pass.yaml"

pytestmark = needs_qemu


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("base") / "rep"
    assert run_scenario(ScenarioRunRequest(PASS, out=out)).exit_code == 0
    return out


def baseline_with(recorded: Path, tmp: Path, scale: dict[str, float]) -> Path:
    """A copy of the recorded report.json with some quantities scaled, as if an earlier firmware had them."""
    data = json.loads((recorded / "report.json").read_text())
    for key, f in scale.items():
        if key in ("median", "observed_maximum"):
            data["timing"]["instructions"][key]["value"] *= f
        else:
            data["memory"][key] = round(data["memory"][key] * f)
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "report.json").write_text(json.dumps(data))
    return tmp / "report.json"


def replay(recorded: Path, out: Path, baseline: Path, threshold: float = 2.0):  # type: ignore[no-untyped-def]
    return run_scenario(
        ScenarioRunRequest(PASS, out=out, replay=recorded, baseline=baseline, baseline_threshold_pct=threshold)
    )


def test_regression_beyond_the_threshold_fails_with_actual_vs_expected(recorded: Path, tmp_path: Path) -> None:
    now = json.loads((recorded / "report.json").read_text())
    median = now["timing"]["instructions"]["median"]["value"]
    flash = now["memory"]["flash_used"]
    old = baseline_with(recorded, tmp_path / "old", {"median": 0.9, "flash_used": 0.95})
    old_data = json.loads(old.read_text())
    old_median, old_flash = old_data["timing"]["instructions"]["median"]["value"], old_data["memory"]["flash_used"]
    outcome = replay(recorded, tmp_path / "rep", old)
    r = outcome.report
    assert outcome.exit_code == 1 and r.verdict == "fail"
    failed = {c.id: c for c in r.checks if c.failed}
    assert sorted(failed) == ["baseline.instructions.median", "baseline.memory.flash"]
    c = failed["baseline.instructions.median"]
    assert c.actual == median
    assert c.expected == f"<= {old_median * 1.02:.6g} instructions (baseline {old_median:.6g} instructions + 2 %)"
    assert c.message.startswith(f"baseline.instructions.median: actual {median:.6g} instructions, expected <= ")
    assert f"({(median - old_median) / old_median * 100:+.2f} %)" in c.message
    f = failed["baseline.memory.flash"]
    assert f.actual == flash and f"actual {flash} bytes, expected <= {old_flash * 1.02:.6g} bytes" in f.message
    d = {x.id: x for x in r.baseline.deltas}
    assert d["baseline.memory.flash"].delta == flash - old_flash and d["baseline.memory.flash"].status == "fail"
    assert d["baseline.memory.ram"].delta == 0 and d["baseline.memory.ram"].status == "pass"
    assert r.baseline.path == str(old) and r.baseline.threshold_pct == 2.0

    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert data["baseline"]["deltas"][0]["id"] == "baseline.instructions.median"
    suite = ET.parse(tmp_path / "rep" / "junit.xml").getroot()
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    fail = cases["baseline.memory.flash"].find("failure")
    assert fail is not None and fail.get("message") == f"actual {flash:g} bytes, expected {f.expected}"
    assert cases["baseline.memory.stack"].find("failure") is None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["baseline"] == str(old) and props["baseline_threshold_pct"] == "2"
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "<h2>Baseline</h2>" in page and "baseline.memory.flash" in page


def test_improvement_and_growth_within_the_threshold_pass(recorded: Path, tmp_path: Path) -> None:
    old = baseline_with(recorded, tmp_path / "old", {"median": 1.2, "observed_maximum": 1.1, "flash_used": 1.05})
    outcome = replay(recorded, tmp_path / "rep", old)
    assert outcome.exit_code == 0 and outcome.report.verdict == "pass"
    deltas = {x.id: x for x in outcome.report.baseline.deltas}
    assert deltas["baseline.instructions.median"].delta_pct < 0 and deltas["baseline.memory.flash"].delta < 0
    assert all(x.status == "pass" for x in deltas.values())
    assert "shrank" in next(c.message for c in outcome.report.checks if c.id == "baseline.instructions.median")
    # 1 % growth: passes at the default 2 %, fails at --baseline-threshold 0.5
    small = baseline_with(recorded, tmp_path / "small", {"observed_maximum": 1 / 1.01})
    assert replay(recorded, tmp_path / "r2", small).exit_code == 0
    strict = replay(recorded, tmp_path / "r3", small, threshold=0.5)
    assert strict.exit_code == 1
    assert [c.id for c in strict.report.checks if c.failed] == ["baseline.instructions.observed_maximum"]


def test_baseline_bad_input(recorded: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"--baseline needs an earlier report\.json"):
        replay(recorded, tmp_path / "r", tmp_path / "nothing")
    (tmp_path / "junk.json").write_text("{}")
    with pytest.raises(BadInput, match="not a scenario report"):
        replay(recorded, tmp_path / "r", tmp_path / "junk.json")
    with pytest.raises(BadInput, match=r"--baseline-threshold -1: give a percentage from 0 to 1000"):
        replay(recorded, tmp_path / "r", recorded, threshold=-1)


def test_cli_baseline_options(recorded: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tinyml_cosim.cli.app import app

    old = baseline_with(recorded, tmp_path / "old", {"stack_used": 0.5})
    runner = CliRunner()
    args = ["run", str(PASS), "--replay", str(recorded), "--out", str(tmp_path / "rep"), "--baseline", str(old)]
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    assert "FAIL  baseline.memory.stack: actual" in res.output and "baseline: " in res.output
    res = runner.invoke(app, [*args, "--baseline-threshold", "150"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["run", "x.elf", "--board", "stm32f405", "--baseline", str(old)])
    assert res.exit_code == 2 and "apply to scenario files only" in res.output


def test_firmware_fault_writes_a_report_and_exits_1(tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "tinyml_cosim.cli.scenario_run", str(SCENARIOS / "fault_fails_with_report.yaml"),
         "--out", str(tmp_path / "rep")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    assert p.returncode == 1, p.stderr
    assert "seed 5: fault: BusFault at 0x" in p.stdout and "BFAR=0x60000000" in p.stdout
    assert "last console lines:" in p.stdout and "infer_fault: classifier table pointer corrupted" in p.stdout
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert data["verdict"] == "fail" and data["exit_code"] == 1
    (run,) = data["runs"]
    assert run["status"] == "fault" and "BusFault" in run["diagnosis"] and "classify_window" in run["pc_symbol"]
    assert run["inferences"] == 5 == data["timing"]["inferences"] and run["decisions"] == 5  # kept up to the fault
    assert run["pc"] and run["cfsr"] == 0x8200 and run["bfar"] == 0x60000000 and "PRECISERR" in run["fault_bits"]
    assert any("infer_fault: classifier table pointer corrupted" in line for line in run["console_tail"])
    suite = ET.parse(tmp_path / "rep" / "junit.xml").getroot()
    fail = next(c for c in suite.iter("testcase") if c.get("name") == "run.seed5").find("failure")
    assert fail is not None and "BFAR=0x60000000" in (fail.text or "") and "last console lines" in (fail.text or "")
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "<h2>Failed runs</h2>" in page and "PRECISERR" in page


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (EngineError("qemu-system-arm died with signal 9 (test)"), "engine error: qemu-system-arm died with signal 9"),
        (RuntimeError("lost the QMP socket (test)"), "internal error: RuntimeError: lost the QMP socket"),
    ],
)
def test_engine_error_writes_a_report_and_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, said: str
) -> None:
    import tinyml_cosim.run.session

    def broken(request):  # type: ignore[no-untyped-def]
        request.echo("console line before the engine died")
        raise error

    monkeypatch.setattr(tinyml_cosim.run.session, "run_firmware", broken)
    outcome = run_scenario(ScenarioRunRequest(PASS, out=tmp_path / "rep"))
    r = outcome.report
    assert outcome.exit_code == 3 and r.verdict == "error" and r.timing is None and r.decisions is None
    (run,) = r.runs
    assert run.status == "error" and said in run.diagnosis
    assert run.console_tail == ["console line before the engine died"]
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert data["exit_code"] == 3 and any("engine error" in n for n in data["notes"])
    assert (tmp_path / "rep" / "junit.xml").is_file() and "verdict: ERROR" in (
        tmp_path / "rep" / "report.html"
    ).read_text()

    from typer.testing import CliRunner

    from tinyml_cosim.cli.app import app

    shutil.rmtree(tmp_path / "rep")
    res = CliRunner().invoke(app, ["run", str(PASS), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 3, res.output
    assert f"seed 11: error: {said}" in res.output and (tmp_path / "rep" / "report.json").is_file()


HOSTILE = "<script>alert(1)</script> & co"


def test_report_text_cannot_inject_markup(recorded: Path, tmp_path: Path) -> None:
    from tinyml_cosim.report.html import PlotData, render_html
    from tinyml_cosim.results.model import Report

    # End to end: a scenario named with markup, re-evaluated from the recorded run.
    scenario = tmp_path / "hostile.yaml"
    scenario.write_text(PASS.read_text().replace("name: shake-pass", f'name: "{HOSTILE}"'))
    outcome = run_scenario(ScenarioRunRequest(scenario, out=tmp_path / "rep", replay=recorded))
    assert outcome.exit_code == 0 and outcome.report.scenario.name == HOSTILE
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "<script>" not in page and "alert(1)" in page
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</h1>" in page
    assert page.count("data:image/png;base64,") == 3  # the plots, the only values marked safe, still embed

    # Every other free text of the page: console lines, notes, check messages, where the alignment came from.
    r = Report.model_validate_json((recorded / "report.json").read_text())
    r.notes = [f"note {HOSTILE}"]
    r.checks[0].message = f"message {HOSTILE}"
    assert r.decisions is not None
    r.decisions.alignment_sources[next(iter(r.decisions.alignment))] = HOSTILE  # was written unescaped before
    page = render_html(r, PlotData(seed=11, console=["BOOT", f"console {HOSTILE}", "a < b && c > d"]))
    assert "<script>" not in page and page.count("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co") == 4
    assert "<pre>BOOT\nconsole &lt;script&gt;" in page and "a &lt; b &amp;&amp; c &gt; d</pre>" in page
    assert "<p>note: note &lt;script&gt;" in page
