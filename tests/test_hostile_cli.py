"""A corpus of bad `cosim` invocations: every numeric option's bad values, `--out` that cannot be used, malformed
report directories for `cosim replay`, `--replay` and `--baseline`. Each case names its expected exit code and a
fragment of the one line that must say what is wrong; none may end in a traceback or exit 3.

Most cases are refused while the options are parsed or before anything is built (no emulator, no toolchain): they
run in-process through typer's CliRunner, a few milliseconds each. The cases that reach the scenario's build are
marked `needs_toolchain`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cosim_testing import needs_qemu, needs_toolchain
from typer.testing import CliRunner

from tinyml_cosim.cli.app import app, mount_extensions
from tinyml_cosim.core.report_dir import MANIFEST, ReportDir
from tinyml_cosim.report.junit import xml_text

mount_extensions()  # `cosim model|scenario|memory|compile` as `cosim` mounts them
runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
SHAKE = ROOT / "tests" / "data" / "scenarios" / "verdicts" / "shake_pass.yaml"
BIG = str(2**63)  # one past the largest accepted counter
HUGE = str(2**64)


@dataclass
class Case:
    id: str
    argv: list[str]  # "{tmp}" is the test's tmp_path, "{shake}" a valid scenario
    code: int
    fragment: str
    setup: Callable[[Path], None] | None = None
    one_line: bool = True  # our own refusals are one line; click's type errors are its usage box
    marks: list[pytest.MarkDecorator] = field(default_factory=list)


def _elf(*opts: str) -> list[str]:
    return ["run", "{tmp}/x.elf", "--board", "stm32f405", *opts]


def _scn(*opts: str) -> list[str]:
    return ["run", "{shake}", *opts]


def _number_cases() -> list[Case]:
    finite = "give a finite number"
    c = [
        Case("duration-nan", _elf("--duration", "nan"), 2, f"--duration nan: {finite} > 0"),
        Case("duration-inf", _elf("--duration", "inf"), 2, f"--duration inf: {finite} > 0"),
        Case("duration-neg-inf", _elf("--duration", "-inf"), 2, f"--duration -inf: {finite}"),
        Case("duration-zero", _elf("--duration", "0"), 2, "--duration 0.0: give a finite number > 0"),
        Case("duration-negative", _elf("--duration", "-1"), 2, "--duration -1.0:"),
        Case("duration-too-long", _elf("--duration", "1e7"), 2, "<= 1e+06 simulated seconds"),
        Case("duration-text", _elf("--duration", "soon"), 2, "--duration", one_line=False),
        Case("max-instr-zero", _elf("--max-instructions", "0"), 2, "--max-instructions 0: give an integer from 1"),
        Case("max-instr-negative", _elf("--max-instructions", "-5"), 2, "--max-instructions -5:"),
        Case("max-instr-2^63", _elf("--max-instructions", BIG), 2, f"to {2**63 - 1}"),
        Case("max-instr-2^64", _elf("--max-instructions", HUGE), 2, f"--max-instructions {HUGE}:"),
        Case("max-instr-float", _elf("--max-instructions", "1.5"), 2, "--max-instructions", one_line=False),
        Case("timeout-negative", _elf("--timeout", "-1"), 2, "--timeout -1.0: give a finite number > 0"),
        Case("timeout-nan", _elf("--timeout", "nan"), 2, "--timeout nan:"),
        Case("timeout-inf", _elf("--timeout", "inf"), 2, "--timeout inf:"),
        Case("timeout-zero", _elf("--timeout", "0"), 2, "--timeout 0.0:"),
        Case("hang-instr-zero", _elf("--hang-instructions", "0"), 2, "--hang-instructions 0:"),
        Case("hang-instr-2^64", _elf("--hang-instructions", HUGE), 2, "--hang-instructions"),
        Case("hang-seconds-nan", _elf("--hang-seconds", "nan"), 2, "--hang-seconds nan:"),
        Case("hang-seconds-negative", _elf("--hang-seconds", "-3"), 2, "--hang-seconds -3.0:"),
        Case("seeds-zero", _scn("--seeds", "0"), 2, "--seeds 0: give an integer from 1 to 1000"),
        Case("seeds-negative", _scn("--seeds", "-2"), 2, "--seeds -2:"),
        Case("seeds-huge", _scn("--seeds", "1000000"), 2, "each seed is one whole emulated run"),
        Case("seeds-2^64", _scn("--seeds", HUGE), 2, "--seeds"),
        Case("scn-timeout-nan", _scn("--timeout", "nan"), 2, "--timeout nan:"),
        Case("baseline-threshold-nan", _scn("--baseline-threshold", "nan"), 2, "--baseline-threshold nan:"),
        Case("baseline-threshold-negative", _scn("--baseline-threshold", "-1"), 2, "--baseline-threshold -1.0:"),
        Case("baseline-threshold-huge", _scn("--baseline-threshold", "1e9"), 2, "<= 1000 %"),
        Case("port-zero", _scn("--gdb", "--port", "0"), 2, "--port 0: give an integer from 1 to 65535"),
        Case("port-too-big", _scn("--gdb", "--port", "65536"), 2, "--port 65536:"),
        Case("debug-port-negative", ["debug", "{tmp}/x.elf", "--board", "stm32f405", "--port", "-1"], 2, "--port -1:"),
        Case("replay-window-negative", ["replay", "{tmp}", "--window", "-1"], 2, "--window -1:"),
        Case("replay-window-2^64", ["replay", "{tmp}", "--window", HUGE], 2, "--window"),
        Case("replay-seed-negative", ["replay", "{tmp}", "--window", "0", "--seed", "-1"], 2, "--seed -1:"),
        Case("replay-port-big", ["replay", "{tmp}", "--gdb", "--port", "99999"], 2, "--port 99999:"),
        Case("model-vectors-zero", ["model", "check", "m.tflite", "--board", "stm32f405", "--vectors", "0"], 2,
             "--vectors 0: give an integer from 1 to 10000"),
        Case("model-vectors-huge", ["model", "check", "m.tflite", "--board", "stm32f405", "--vectors", BIG], 2,
             "--vectors"),
        Case("model-seed-negative", ["model", "check", "m.tflite", "--board", "stm32f405", "--seed", "-1"], 2,
             "--seed -1:"),
        Case("model-diff-seed-huge", ["model", "diff", "m.tflite", "--board", "stm32f405", "--seed", HUGE], 2,
             "--seed"),
        Case("scenario-export-seed-negative", ["scenario", "export", "{shake}", "--out", "{tmp}/e", "--seed", "-4"],
             2, "--seed -4:"),
        Case("scenario-render-seed-huge", ["scenario", "render", "{shake}", "-o", "{tmp}/p.png", "--seed", HUGE],
             2, "--seed"),
        Case("sweep-workers-zero", ["sweep", "run", "{shake}", "--workers", "0"], 2, "--workers 0: give an integer"),
        Case("sweep-timeout-nan", ["sweep", "run", "{shake}", "--timeout", "nan"], 2, "--timeout nan:"),
        Case("memory-fail-pct-nan", ["memory", "{tmp}/x.elf", "--board", "stm32f405", "--fail-above-pct", "nan"], 2,
             "--fail-above-pct nan:"),
        Case("memory-fail-pct-above-100", ["memory", "{tmp}/x.elf", "--board", "stm32f405", "--fail-above-pct",
             "150"], 2, "--fail-above-pct 150.0:"),
        Case("memory-warn-pct-zero", ["memory", "{tmp}/x.elf", "--board", "stm32f405", "--warn-above-pct", "0"], 2,
             "--warn-above-pct 0.0:"),
        Case("memory-warn-above-fail", ["memory", "{tmp}/x.elf", "--board", "stm32f405", "--warn-above-pct", "95"],
             2, "--warn-above-pct <= --fail-above-pct"),
    ]  # fmt: skip
    return c


def _user_dir(tmp: Path) -> None:
    (tmp / "mine").mkdir()
    (tmp / "mine" / "thesis.tex").write_text("years of work")


def _a_file(tmp: Path) -> None:
    (tmp / "afile").write_text("not a directory")


def _out_cases() -> list[Case]:
    refused = "exists and is not a tinyml-cosim report (1 entry); use --force to replace it or choose another"
    return [
        Case("scn-out-user-dir", _scn("--out", "{tmp}/mine"), 2, f"--out {{tmp}}/mine: {refused}", _user_dir),
        Case("elf-out-user-dir", _elf("--out", "{tmp}/mine"), 2, refused, _user_dir),
        Case("scn-out-is-file", _scn("--out", "{tmp}/afile"), 2, "afile: exists and is not a directory", _a_file),
        Case("elf-out-is-file", _elf("--out", "{tmp}/afile"), 2, "exists and is not a directory", _a_file),
        Case("scn-out-under-file", _scn("--out", "{tmp}/afile/rep"), 2, "cannot be created: {tmp}/afile is not a "
             "directory", _a_file),
        Case("elf-out-under-proc", _elf("--out", "/proc/self/nope/rep"), 2, "--out /proc/self/nope/rep: cannot be "
             "created"),
        Case("elf-out-cwd", _elf("--out", "."), 2, "--out .: is the current directory or one above it"),
        Case("scn-out-root", _scn("--out", "/"), 2, "--out /: is the current directory or one above it"),
        Case("scn-out-symlink", _scn("--out", "{tmp}/link"), 2, "--out {tmp}/link: is a symbolic link; give the "
             "directory itself ({tmp}/mine)", lambda t: (_user_dir(t), (t / "link").symlink_to(t / "mine"))),
        Case("compile-out-is-file", ["compile", "m.tflite", "--board", "stm32f405", "--out", "{tmp}/afile"], 2,
             "afile: exists and is not a directory", _a_file),
        Case("export-out-is-file", ["scenario", "export", "{shake}", "--out", "{tmp}/afile"], 2,
             "afile: exists and is not a directory", _a_file),
    ]  # fmt: skip


def _report_dir(report: object, records: dict[str, str | bytes] | None = None) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        d = tmp / "rep"
        d.mkdir()
        text = report if isinstance(report, (str, bytes)) else json.dumps(report)
        (d / "report.json").write_bytes(text.encode() if isinstance(text, str) else text)
        for name, data in (records or {}).items():
            if name.endswith("/"):
                (d / name).mkdir()
            else:
                (d / name).write_bytes(data.encode() if isinstance(data, str) else data)

    return setup


def _replay_cases() -> list[Case]:
    rep = ["replay", "{tmp}/rep"]
    at = {"timing": {"span": "inference", "observed_maximum_at": {"seed": 1, "index": 0}}, "seeds": [1]}
    return [
        Case("replay-no-dir", ["replay", "{tmp}/none"], 2, "{tmp}/none: no such directory"),
        Case("replay-file-not-dir", ["replay", "{tmp}/afile"], 2, "{tmp}/afile: not a directory", _a_file),
        Case("replay-no-report", rep, 2, "report.json: no such file", lambda t: (t / "rep").mkdir()),
        Case("replay-truncated", rep, 2, "report.json: not JSON", _report_dir('{"report_version": 1, "scen')),
        Case("replay-not-utf8", rep, 2, "report.json: not JSON", _report_dir(b"\xff\xfe{\x00")),
        Case("replay-array", rep, 2, "report.json: expected a JSON object", _report_dir([1, 2])),
        Case("replay-timing-wrong-type", rep, 2, "timing: expected dict, got str", _report_dir({"timing": "fast"})),
        Case("replay-no-maximum", rep, 2, "no observed maximum", _report_dir({"timing": {}})),
        Case("replay-maximum-seed-text", rep, 2, "timing.observed_maximum_at.seed: expected int, got str",
             _report_dir({"timing": {"observed_maximum_at": {"seed": "x", "index": 0}}})),
        Case("replay-maximum-no-index", rep, 2, "timing.observed_maximum_at: needs a seed and an index",
             _report_dir({"timing": {"observed_maximum_at": {"seed": 1}}})),
        Case("replay-seeds-text", [*rep, "--window", "0"], 2, "seeds: expected integers",
             _report_dir({"seeds": ["a"]})),
        Case("replay-no-seeds", [*rep, "--window", "0"], 2, "no seeds", _report_dir({"seeds": []})),
        Case("replay-record-missing", rep, 2, "run-seed1.json: no run record for seed 1", _report_dir(at)),
        Case("replay-record-a-dir", rep, 2, "run-seed1.json: no run record", _report_dir(at, {"run-seed1.json/": ""})),
        Case("replay-record-bad-json", rep, 2, "run-seed1.json: not a run record",
             _report_dir(at, {"run-seed1.json": "{"})),
        Case("replay-record-wrong-schema", rep, 2, "run-seed1.json: not a run record: status:",
             _report_dir(at, {"run-seed1.json": json.dumps({"status": 7})})),
        Case("replay-scenario-gone", rep, 2, "the scenario /nonexistent/s.yaml is gone",
             _report_dir({**at, "scenario": {"path": "/nonexistent/s.yaml"}},
                         {"run-seed1.json": json.dumps(_record())})),
        Case("scn-replay-not-dir", _scn("--replay", "{tmp}/afile"), 2, "--replay {tmp}/afile: not a directory",
             _a_file),
        Case("scn-baseline-missing", _scn("--baseline", "{tmp}/none.json"), 2, "--baseline needs an earlier "
             "report.json"),
        Case("scn-baseline-bad-json", _scn("--baseline", "{tmp}/rep"), 2, "report.json: not a scenario report",
             _report_dir("{{{")),
        Case("scn-baseline-wrong-schema", _scn("--baseline", "{tmp}/rep/report.json"), 2,
             "report.json: not a scenario report", _report_dir({"report_version": 1, "verdict": "maybe"})),
        Case("scn-baseline-dir-without-report", _scn("--baseline", "{tmp}"), 2, "--baseline needs an earlier"),
        Case("scn-replay-bad-record", _scn("--replay", "{tmp}/rep", "--out", "{tmp}/o"), 2,
             "run-seed11.json: not a run record", _report_dir({}, {"run-seed11.json": "{"}), marks=[needs_toolchain]),
        Case("scn-replay-odd-names", _scn("--replay", "{tmp}/rep", "--out", "{tmp}/o"), 2,
             "no recorded runs (run-seed<N>.json)", _report_dir({}, {"run-seedX.json": "{}", "run-seed-1.json": ""}),
             marks=[needs_toolchain]),
        Case("scn-replay-record-a-dir", _scn("--replay", "{tmp}/rep", "--out", "{tmp}/o"), 2,
             "run-seed11.json: cannot be read", _report_dir({}, {"run-seed11.json/": ""}), marks=[needs_toolchain]),
    ]  # fmt: skip


def _record() -> dict[str, object]:
    """The smallest run record the model accepts, with one inference span."""
    return {
        "status": "exited",
        "diagnosis": "exited with code 0",
        "board": "stm32f405",
        "engine": "qemu",
        "elf": "/nonexistent/app.elf",
        "elf_sha256": "0" * 64,
        "clock_hz": 168_000_000,
        "spans": [{"name": "inference", "begin": 10, "end": 20, "depth": 0}],
    }


CASES = [*_number_cases(), *_out_cases(), *_replay_cases()]


def _sub(text: str, tmp: Path) -> str:
    return text.replace("{tmp}", str(tmp)).replace("{shake}", str(SHAKE))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_bad_invocation_is_one_clear_line_and_exit_2(case: Case, tmp_path: Path) -> None:
    if case.setup is not None:
        case.setup(tmp_path)
    result = runner.invoke(app, [_sub(a, tmp_path) for a in case.argv])
    err = result.stderr
    assert "Traceback" not in err and "internal error" not in err, err
    assert result.exit_code == case.code, err
    assert _sub(case.fragment, tmp_path) in " ".join(err.split()), err
    if case.one_line:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1, err
        # `cosim scenario …` prints its problems bare (`file:line: field: problem`), every other command `error: …`
        assert case.argv[0] == "scenario" or lines[0].startswith("error: "), err


def test_the_corpus_covers_every_numeric_option() -> None:
    """Every int/float option of every command has at least one bad value in the corpus (a new option without a
    range check shows up here)."""
    import typer.main

    numeric: set[str] = set()

    def walk(cmd: object) -> None:  # typer's click types, whichever click package typer uses
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)
        for p in getattr(cmd, "params", []):
            td = getattr(p, "type_descriptor", None)
            kind = td.annotation if td is not None else getattr(getattr(p, "type", None), "name", None)
            if getattr(p, "param_type_name", "") == "option" and kind in (int, float, "integer", "float"):
                numeric.update(o for o in p.opts if o.startswith("--"))

    cli = typer.main.get_command(app)
    walk(cli)
    covered = {a for c in CASES for a in c.argv if a.startswith("--")}
    assert numeric and numeric <= covered, f"numeric options without a bad-value case: {sorted(numeric - covered)}"


@pytest.mark.parametrize(
    "kind", ["elf", pytest.param("scenario", marks=needs_toolchain)]
)  # a scenario takes the lock after its (cached) build, before it emulates anything
def test_a_second_run_into_a_locked_out_is_refused_before_it_runs(tmp_path: Path, kind: str) -> None:
    out = tmp_path / "rep"
    what = [str(SHAKE)] if kind == "scenario" else [str(tmp_path / "x.elf"), "--board", "stm32f405"]
    with ReportDir(out):  # what a running `cosim run … --out rep` holds
        r = runner.invoke(app, ["run", *what, "--out", str(out)])
    assert r.exit_code == 2, r.stderr
    want = rf"error: --out {re.escape(str(out))}: is being written by another cosim run \(pid {os.getpid()}\)\n"
    assert re.fullmatch(want, r.stderr), r.stderr
    assert not out.exists()  # the refused run wrote nothing
    assert not (tmp_path / ".rep.lock").exists()  # the lock file goes with the last holder


# --- the --out contract, without an emulator: core.files directly ------------------------------------------------


def _fill(names: dict[str, str]) -> Callable[[Path], None]:
    def fill(tmp: Path) -> None:
        for name, text in names.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text)

    return fill


def _write(out: Path, names: dict[str, str], force: bool = False) -> None:
    with ReportDir(out, force=force) as target:
        target.write(_fill(names))


def test_a_previous_report_is_replaced_and_the_users_files_in_it_are_kept(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    _write(out, {"report.json": "old", "run-seed1.json": "old", "sub/deep.txt": "old"})
    (out / "notes.txt").write_text("mine")
    (out / "plots").mkdir()
    (out / "plots" / "fig.png").write_text("mine too")
    _write(out, {"report.json": "new", "run-seed2.json": "new"})
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert files == [MANIFEST, "notes.txt", "plots", "plots/fig.png", "report.json", "run-seed2.json"]
    assert (out / "report.json").read_text() == "new" and (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / MANIFEST).read_text())["files"] == ["report.json", "run-seed2.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]  # no temporary, no lock left


def test_force_into_a_users_directory_deletes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "report.json").write_text("the user's own report.json")
    (out / "data.csv").write_text("1,2,3")
    _write(out, {"report.json": "ours"}, force=True)
    assert (out / "report.json").read_text() == "ours"
    assert (out / "report.json.kept").read_text() == "the user's own report.json"
    assert (out / "data.csv").read_text() == "1,2,3"
    _write(out, {"junit.xml": "ours"})  # now it is a report of ours: no --force needed, the user's files stay
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "data.csv", "junit.xml", "report.json.kept"]


def test_an_empty_directory_and_a_legacy_report_are_ours_to_replace(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    _write(empty, {"report.json": "x"})
    legacy = tmp_path / "legacy"  # a report written before the manifest: report.json names the tool
    legacy.mkdir()
    (legacy / "report.json").write_text(json.dumps({"tool_version": "tinyml-cosim 0.1.0"}))
    (legacy / "console-seed3.log").write_text("old")
    (legacy / "mine.txt").write_text("mine")
    _write(legacy, {"report.json": "{}"})
    assert sorted(p.name for p in legacy.iterdir()) == [MANIFEST, "mine.txt", "report.json"]


def test_a_failing_fill_leaves_the_old_report_untouched(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    _write(out, {"report.json": "old"})

    def broken(tmp: Path) -> None:
        (tmp / "report.json").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), ReportDir(out) as target:
        target.write(broken)
    assert (out / "report.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_leftovers_of_a_killed_run_are_cleaned_by_the_next(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    _write(out, {"report.json": "old"})
    (out / "mine.txt").write_text("mine")
    dead = 2**22 + 12345  # above the default pid_max: no such process
    partial = tmp_path / f".rep.tmp-{dead}"  # killed while filling its new report
    partial.mkdir()
    (partial / "report.json").write_text("half")
    swapped = tmp_path / f".rep.old-{dead}"  # killed after the exchange: the old report, with a user's directory
    swapped.mkdir()
    (swapped / MANIFEST).write_text(json.dumps({"files": ["junit.xml"]}))
    (swapped / "junit.xml").write_text("old")
    (swapped / "keep").mkdir()
    (swapped / "keep" / "x").write_text("mine")
    _write(out, {"report.json": "new"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "keep", "mine.txt", "report.json"]
    assert (out / "keep" / "x").read_text() == "mine"


# --- text that XML forbids -------------------------------------------------------------------------------------

HOSTILE_NAME = "evil\x01\x1b\x7f]]><&\"'<script>alert(1)</script>\x9f"


def test_xml_text_escapes_what_xml_forbids() -> None:
    s = xml_text(HOSTILE_NAME + "\ud800\ufffe\uffff\t\n\r é")
    for escaped in ("\\x01", "\\x1b", "\\x7f", "\\x9f", "\\ud800", "\\ufffe", "\\uffff"):
        assert escaped in s
    assert s.endswith("\t\n\r é") and ']]><&"' in s  # what ElementTree escapes itself stays as it is
    el = ET.Element("testsuite", name=s)
    el.text = s
    back = ET.fromstring(ET.tostring(el, encoding="unicode"))
    assert back.get("name") == s and back.text == s.replace("\r", "\n")  # XML normalises a text's CR


@needs_qemu
def test_a_hostile_scenario_name_gives_valid_junit_html_and_json(tmp_path: Path) -> None:
    import jsonschema
    import yaml

    from tinyml_cosim.results.model import SCHEMA_PATH

    data = yaml.safe_load(SHAKE.read_text())
    data.update(name=HOSTILE_NAME, duration_s=2.0)
    data["timeline"] = [{"start_s": 0.0, "end_s": 1.0, "label": "idle\x02<b>"}, {"start_s": 1.0, "end_s": 2.0,
                        "label": "shaking"}]  # fmt: skip
    data["expect"] = {"timing": {"deadline_ms": 0.000001}}  # fails: a <failure> element with the name's text
    scenario = tmp_path / "hostile.yaml"
    scenario.write_text(yaml.safe_dump(data))  # PyYAML writes the control characters as "\x01" escapes
    out = tmp_path / "rep"
    result = runner.invoke(app, ["run", str(scenario), "--out", str(out)])
    assert result.exit_code == 1, result.output
    suite = ET.parse(out / "junit.xml").getroot()  # a reader that follows XML 1.0 accepts it
    assert suite.get("name", "").startswith("cosim.evil\\x01\\x1b\\x7f]]><&\"'<script>")
    assert any(el.tag == "failure" for el in suite.iter())
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))
    assert report["scenario"]["name"] == HOSTILE_NAME  # JSON carries it exactly
    html = (out / "report.html").read_text()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "idle\x02<b>" not in html


# --- an unwritable --out for a user without privileges (the tier runs as root, whom no permission stops) --------------

_NO_CAPS = [  # uid 0 with every capability dropped and root's exemption off: file permissions apply as to anyone
    "setpriv",
    "--securebits", "+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked",
    "--inh-caps=-all", "--bounding-set=-all",
]  # fmt: skip
_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _unprivileged(probe_dir: Path) -> list[str] | None:
    """A command prefix that runs this interpreter as a user who cannot write `probe_dir` (nobody where it can reach
    the interpreter, else root without capabilities), or None where privileges cannot be dropped."""
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return None
    for prefix in [_NOBODY, _NO_CAPS] if os.geteuid() == 0 else [[]]:
        probe = [*prefix, sys.executable, "-c", f"open({str(probe_dir / 'probe')!r}, 'w')"]
        try:
            r = subprocess.run(probe, capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": "/tmp"})
        except OSError:
            continue
        if "PermissionError" in r.stderr:  # the interpreter ran and the directory refused it
            return prefix
    return None


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory every user may search (pytest's tmp_path lies under root's private 0700 directory)."""
    d = Path(tempfile.mkdtemp(prefix="cosim-unpriv-"))
    d.chmod(0o755)
    yield d
    for p in [d, *d.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(d)


OUT_CASES = {  # kind -> what the one line says
    "under-read-only-parent": "cannot be created: {parent} is not writable",
    "read-only-dir": "is not writable",
    "read-only-previous-report": "is not writable",
    "unreachable": "cannot be reached (permission denied",
}


@pytest.mark.parametrize("kind", list(OUT_CASES))
def test_an_unwritable_out_is_refused_for_an_unprivileged_user(shared_tmp: Path, kind: str) -> None:
    parent = shared_tmp / "ro"
    parent.mkdir()
    target = parent / "out"
    if kind != "under-read-only-parent":
        target.mkdir()
    if kind == "read-only-previous-report":
        (target / "report.json").write_text("{}\n")
        (target / MANIFEST).write_text(json.dumps({"files": ["report.json"]}) + "\n")
        target.chmod(0o555)
    if kind == "read-only-dir":
        target.chmod(0o555)
    parent.chmod(0o000 if kind == "unreachable" else 0o555)
    before = sorted(str(p.relative_to(shared_tmp)) for p in shared_tmp.rglob("*"))
    probe_dir = parent if kind != "unreachable" else shared_tmp / "probe-ro"
    if kind == "unreachable":
        probe_dir.mkdir(mode=0o555)
    prefix = _unprivileged(probe_dir)
    if prefix is None:
        pytest.skip("no way to drop privileges here (no setpriv, or the directory stays writable)")
    build = shared_tmp / "build"
    env = {**os.environ, "HOME": "/tmp", "COSIM_BUILD_DIR": str(build)}
    argv = [*prefix, sys.executable, "-m", "tinyml_cosim.cli.app", "run", str(SHAKE), "--out", str(target)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    lines = r.stderr.splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert f"--out {target}: " in lines[0] and OUT_CASES[kind].format(parent=parent) in lines[0], lines[0]
    after = sorted(str(p.relative_to(shared_tmp)) for p in shared_tmp.rglob("*") if p.name != "probe-ro")
    assert after == [b for b in before if b != "probe-ro"]  # nothing left, nothing built
