"""`--measure` on a vendor-way C++ firmware (issue #14 item 7): demangled names with or without the parameter list,
near matches for a miss, per-call count, min, median, max and total in text and JSON, labelled exact or not."""

from __future__ import annotations

import json
import statistics

import pytest
from cosim_testing import needs_qemu, needs_toolchain
from foreign import build_foreign
from typer.testing import CliRunner

from tinyml_cosim.cli.app import app
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.elf.demangle import resolve_function, without_parameters

SIZED = {
    "_ZN6tflite16MicroInterpreter6InvokeEv": 40,
    "_ZN6tflite16MicroInterpreter4InitEi": 20,
    "_ZN6tflite16MicroInterpreter4InitEv": 20,
    "main": 10,
}


def test_demangled_names_resolve_with_or_without_parameters() -> None:
    inv = "_ZN6tflite16MicroInterpreter6InvokeEv"
    assert resolve_function(SIZED, "tflite::MicroInterpreter::Invoke()") == inv
    assert resolve_function(SIZED, "tflite::MicroInterpreter::Invoke") == inv
    assert resolve_function(SIZED, inv) == inv and resolve_function(SIZED, "main") == "main"
    assert resolve_function(SIZED, "tflite::MicroInterpreter::Init(int)") == "_ZN6tflite16MicroInterpreter4InitEi"
    with pytest.raises(BadInput, match=r"ambiguous, 2 functions.*Init\(\); .*Init\(int\)"):
        resolve_function(SIZED, "tflite::MicroInterpreter::Init")
    with pytest.raises(BadInput, match=r"did you mean tflite::MicroInterpreter::Invoke\(\)"):
        resolve_function(SIZED, "tflite::MicroInterpreter::Invok")
    assert without_parameters("ns::C::f(int (*)(int), char) const") == "ns::C::f"


@needs_toolchain
@needs_qemu
def test_measure_a_cpp_method_by_its_source_name() -> None:
    elf = build_foreign("cpp_virtual")
    runner = CliRunner()
    args = ["run", str(elf), "--board", "stm32f405", "--measure", "tflite::MicroInterpreter::Invoke(int)"]
    res = runner.invoke(app, [*args, "--measure", "Dispatch", "--json"])
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)
    summary = record["measure_summary"]
    invoke = [m["instructions"] for m in record["measurements"] if m["function"].startswith("tflite::")]
    # main invokes the interpreter 4 times with 1..4 steps: four different counts, growing with the work
    assert len(invoke) == 4 and invoke == sorted(invoke) and len(set(invoke)) == 4
    s = summary["tflite::MicroInterpreter::Invoke(int)"]
    assert (s["calls"], s["min"], s["max"], s["total"]) == (4, invoke[0], invoke[-1], sum(invoke))
    assert s["median"] == statistics.median_low(invoke)
    assert s["exact"] is record["instructions_exact"] and summary["Dispatch"]["calls"] == 4
    text = runner.invoke(app, args)
    assert text.exit_code == 0
    label = "exact" if s["exact"] else "approximate"
    assert (
        f"[measure] tflite::MicroInterpreter::Invoke(int): 4 calls, instructions per call min {invoke[0]:,} median "
        f"{s['median']:,} max {invoke[-1]:,}, total {sum(invoke):,} ({label}" in text.stderr
    )


@needs_toolchain
def test_a_missed_name_suggests_the_near_ones() -> None:
    elf = build_foreign("cpp_virtual")
    res = CliRunner().invoke(app, ["run", str(elf), "--board", "stm32f405", "--measure", "MicroInterpreter::Invok"])
    assert res.exit_code == 2
    assert "no function of that name" in res.stderr and "did you mean" in res.stderr
    assert "tflite::MicroInterpreter::Invoke(int)" in res.stderr
