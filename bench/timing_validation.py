"""Timing validation of the cycle model (issue 15): the MLPerf Tiny v0.5 reference submissions' inference code
(TFLM + CMSIS-NN, as they ran on a NUCLEO-L4R5ZI), rebuilt outside this repository, run on QEMU, and their
per-inference cycles predicted at the stm32l4r5 board's parameters against the published silicon latencies.

    .venv/bin/python bench/timing_validation.py --elf-dir DIR --mlperf-tiny-dir DIR [--extra-dir DIR2] [--sensitivity]
    # or VALIDATION_ELF_DIR=... MLPERF_TINY_DIR=... .venv/bin/python bench/timing_validation.py

--extra-dir DIR2: more rows, each DIR2/<row>/ with <row>.elf, flags.txt, PROVENANCE and row.json (published latency
and its source, the symbol to measure, what its rebuild checked of the output, and the memory system as that silicon's
start-up set it: `run_extra`). --sensitivity: each row costed again under memory-system variants (SENSITIVITY).

DIR/<model>/ holds <model>.elf (model: kws, ic, ad, vww), flags.txt (its compiler command lines) and PROVENANCE
(one line: what was compiled, from where). The firmwares are built from fetched third-party sources, so neither
they nor a recipe that builds them is in this repository (the project's rule for fetched code): each row of the
table records the sources, flags and ELF hash it was measured with. Each firmware runs N inferences of its model on
the reference submission's input through `MicroInterpreter::Invoke()`, prints `input_int8:` and
`first_output_int8:` over semihosting, and reads TIM2 CNT right before and after each Invoke.

-> bench/results/timing_validation.json: one row per model {name, code, compiler_flags, board, clock_hz,
published_ms, published_source, instructions, predicted_cycles, predicted_ms, error_pct, factor_predicted_ms, ...}
and rows for what could not be rebuilt, with the reason.

Per model: `cosim run ELF --board stm32f405 --measure 'tflite::MicroInterpreter::Invoke()' --json` for the exact
instructions of every Invoke, the first inference's int8 output against tflite-micro's Python interpreter on the same
input (MLPERF_TINY_DIR: the reference submissions' model arrays), then a QEMU run with the cycles plugin (cost table
for stm32l4r5) whose snapshots at the TIM2 CNT reads around each Invoke cost the same spans. Instruction counts are
never cycles: predicted cycles are an estimate beside the simulated time (t = instructions / f_clk), which they never
move. Exit codes: 0 written, 2 bad input (a directory or ELF missing), 3 a run or golden check failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import EngineError
from tinyml_cosim.core.memory_system import Cache, CycleModel

try:  # the cycle model's API (issue 15); without it the table has instruction counts only
    from tinyml_cosim.cycles import costtable
    from tinyml_cosim.cycles import estimate as cycle_estimate
    from tinyml_cosim.engines.qemu import cycleplugin
    from tinyml_cosim.engines.qemu.engine import QEMU_BINARY

    CYCLES_MISSING: str | None = cycleplugin.unavailable_reason()
except ImportError as exc:
    CYCLES_MISSING = f"cycle model not importable: {exc}"

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "timing_validation.json"
MEASURE = "tflite::MicroInterpreter::Invoke()"
RUN_BOARD = "stm32f405"  # QEMU's netduinoplus2: the board the firmware runs on
PREDICT_BOARD = "stm32l4r5"  # the silicon's board: the cycle model's parameters
FACTOR_BOARD = "stm32f405"  # the old calibrated cycles-per-instruction factors live here
SILICON_HZ = 120_000_000
RESULTS = "mlcommons/tiny_results_v0.5 closed/reference/results/Nucleo-L4R5ZI/{task}/performance/results.txt"

# Published latency per inference: runtime of the median window / inferences in it (results.txt).
PUBLISHED = {
    "kws": (181.9, "kws", "18.192 s / 100 inferences (5.497 inf./s)"),
    "ic": (704.2, "ic", "70.426 s / 100 inferences (1.420 inf./s)"),
    "ad": (10.05, "ad", "10.052 s / 1000 inferences (99.487 inf./s)"),
    "vww": (600.5, "vww", "60.054 s / 100 inferences (1.665 inf./s)"),
}
# The model array of each reference submission: (file under reference_submissions/ or training/, array name).
MODEL_ARRAYS = {
    "kws": ("reference_submissions/keyword_spotting/kws/kws_model_data.cc", "g_kws_model_data"),
    "ic": ("reference_submissions/image_classification/ic/ic_model_quant_data.cc", "pretrainedResnet_quant_tflite"),
    "ad": ("reference_submissions/anomaly_detection/model.cc", "g_model"),
    "vww": ("training/visual_wake_words/trained_models/vww/vww_model_data.cc", "g_person_detect_model_data"),
}
NOT_REBUILT = [
    {
        "name": "TF v2.3.1 exactly (all models)",
        "reason": "the tag's tree is not in the code index and tensorflow/tensorflow is too big to fetch; the rows "
        "use TF v2.3.0's generated mbed project (v2.3.1 was the security release: per-tensor index checks in "
        "kernel_util.h and friends, no inner-loop work)",
    },
    {
        "name": "reference-kernel builds (TFLM v2.3 without cmsis-nn)",
        "reason": "the only TF v2.3 trees to be had are mbed projects generated with TAGS=cmsis-nn: they carry the "
        "CMSIS-NN versions of conv, depthwise_conv, fully_connected, pooling, add, mul and softmax and not the "
        "reference ones; no published row to compare with either",
    },
    {
        "name": "octoml-native-kws, octoml-native-ic, octoml-native-vww (MLPerf Tiny v1.0, microTVM native kernels)",
        "reason": "their TVM workspaces (146,960, 247,392 and 353,800 bytes) exceed the 128 KiB of SRAM QEMU's "
        "netduinoplus2 maps (the NUCLEO-L4R5ZI has 640 KiB); the rebuild's workspace sizes are in its SOURCES.md",
    },
]


FAILED = ("not built", "run failed", "output differs from tflite-micro's interpreter")

# --sensitivity: the same runs costed with memory-system parameters the reference manual leaves open or the vendor
# start-up may set otherwise; each row records the error it would have. Not the model: what the error depends on.
SENSITIVITY: dict[str, tuple[str, dict]] = {
    "dcache_16x8": ("ART data cache of 16 x 8 B (128 B) instead of 32 x 8 B", {
        "dcache": Cache(lines=16, line_bytes=8)}),
    "dcache_8x8": ("ART data cache of 8 x 8 B (64 B): one 64-bit read per line of the '8 lines'", {
        "dcache": Cache(lines=8, line_bytes=8)}),
    "icache_32x8": ("ART instruction cache of 32 x 8 B (256 B): one 64-bit read per line of the '32 lines'", {
        "icache": Cache(lines=32, line_bytes=8)}),
    "wait_states_4": ("4 flash wait states (mbed-os's NUCLEO_L4R5ZI clock setup) instead of RM0432's 5", {
        "wait_states": 4}),
}  # fmt: skip


class BadInput(Exception):
    pass


def _dir(value: str | None, name: str, marker: str, hint: str) -> Path:
    if not value:
        raise BadInput(f"{name} is not set: pass --{name.lower().replace('_', '-')} or set {name} ({hint})")
    path = Path(value).expanduser().resolve()
    if not (path / marker).exists():
        raise BadInput(f"{name}={path}: no {marker} there ({hint})")
    return path


def _reference_root(tiny: Path) -> Path:
    for sub in ("v0.5", "benchmark"):
        if (tiny / sub / "reference_submissions").is_dir():
            return tiny / sub
    raise BadInput(f"MLPERF_TINY_DIR={tiny}: neither v0.5/reference_submissions nor benchmark/reference_submissions")


def _model_bytes(root: Path, model: str) -> bytes:
    """The reference's C array as bytes (the flatbuffer the firmware links)."""
    rel, name = MODEL_ARRAYS[model]
    text = (root / rel).read_text()
    m = re.search(rf"{name}\[\][^=]*=\s*\{{(.*?)\}};", text, re.S)
    if m is None:
        raise BadInput(f"{root / rel}: no array {name}")
    return bytes(int(v, 0) & 0xFF for v in re.findall(r"0x[0-9a-fA-F]+|\d+", re.sub(r"//.*", "", m.group(1))))


def _golden(model_data: bytes, x: np.ndarray) -> np.ndarray:
    from tflite_micro.python.tflite_micro import runtime  # heavy (TF-style runtime): only for the check

    interp = runtime.Interpreter.from_bytes(model_data)
    interp.set_input(x.reshape(interp.get_input_details(0)["shape"]), 0)
    interp.invoke()
    return interp.get_output(0).flatten()


def _console(run: dict) -> dict[str, str]:
    return {k: v for k, _, v in (line.partition(":") for line in run.get("console_tail", [])) if v}


def _int8s(text: str) -> np.ndarray:
    return np.array([int(v) for v in text.split(",")], dtype=np.int8)


def _cycles(elf: Path, work: Path, spans: list[tuple[int, int]], memory: CycleModel | None = None) -> dict:
    """A QEMU run with the cycles plugin (cost table of PREDICT_BOARD, or `memory` in its place) and the estimate of
    each span."""
    board = load_board(PREDICT_BOARD)
    costs, profile = work / "costs.txt", work / "cycles.profile"
    profile.unlink(missing_ok=True)
    t0 = time.monotonic()
    static = costtable.write_cost_table(costs, elf, board, memory)
    t1 = time.monotonic()
    argv = [QEMU_BINARY, "-M", "netduinoplus2", "-kernel", str(elf), "-display", "none", "-monitor", "none"]
    argv += ["-serial", "null", "-icount", "shift=0,sleep=off", "-semihosting-config", "enable=on,target=native"]
    proc = subprocess.run(argv + cycleplugin.qemu_args(costs, profile), capture_output=True, text=True, timeout=1800)
    t2 = time.monotonic()
    if proc.returncode != 0:
        raise RuntimeError(f"QEMU with the cycles plugin exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    raw = cycleplugin.read_profile(profile)
    est = cycle_estimate.estimate(raw, static, board.clock_hz, spans)
    per = [s.cycles for s in est.spans]
    return {
        "per_inference": per,
        "median": int(statistics.median(per)),
        "span_offset_instructions": max(s.offset_instructions for s in est.spans),
        "span_error_bound_cycles": max(s.error_bound_cycles for s in est.spans),
        "run_cycles": est.cycles,
        "run_band": list(est.band),
        "run_instructions": est.instructions,
        "categories": est.categories,
        "plugin_counters": dataclasses.asdict(raw.counters),
        "consistent": est.consistent,
        "problems": est.problems,
        "unknown_instructions": est.unknown_instructions,
        "decode_seconds": round(t1 - t0, 2),
        "qemu_seconds": round(t2 - t1, 2),
    }


def _error_pct(predicted_ms: float, published_ms: float | None) -> float | None:
    return round((predicted_ms - published_ms) / published_ms * 100, 1) if published_ms else None


def _predict_memory() -> CycleModel:
    """PREDICT_BOARD's memory system, which the variants and a row's overrides start from."""
    memory = load_board(PREDICT_BOARD).cycle_model
    assert memory is not None
    return memory


def _sensitivity(elf: Path, work: Path, spans: list[tuple[int, int]], published_ms: float | None) -> dict:
    """The row's error under each SENSITIVITY variant of the board's memory system."""
    base = _predict_memory()
    out = {}
    for name, (what, update) in SENSITIVITY.items():
        (work / name).mkdir(parents=True, exist_ok=True)
        median = _cycles(elf, work / name, spans, base.model_copy(update=update))["median"]
        ms = median / SILICON_HZ * 1000
        out[name] = {"what": what, "predicted_cycles": median, "predicted_ms": round(ms, 2),
                     "error_pct": _error_pct(ms, published_ms)}  # fmt: skip
    return out


def _describe_elf(row: dict, elf: Path, out: Path) -> bool:
    """The row's compiler flags (flags.txt beside the ELF) and ELF hash; False (the row says "not built") when the
    ELF is missing."""
    if not elf.is_file():
        row["status"], row["reason"] = "not built", f"{elf} is missing"
        return False
    out.mkdir(parents=True, exist_ok=True)
    flags = elf.with_name("flags.txt")
    row["compiler_flags"] = flags.read_text().strip().splitlines() if flags.is_file() else []
    row["elf_sha256"] = hashlib.sha256(elf.read_bytes()).hexdigest()
    return True


def _provenance(elf: Path) -> str:
    prov = elf.with_name("PROVENANCE")
    return prov.read_text().strip() if prov.is_file() else f"{elf} (no PROVENANCE file beside it)"


def _measured_run(elf: Path, symbol: str, out: Path) -> tuple[dict, float]:
    """`cosim run ELF --measure SYMBOL` on the run board: the record and its wall seconds."""
    t0 = time.monotonic()
    cosim = Path(sys.executable).with_name("cosim")
    argv = [str(cosim), "run", str(elf), "--board", RUN_BOARD, "--measure", symbol, "--json", "--out", str(out)]
    proc = subprocess.run(argv, capture_output=True, text=True)
    return json.loads(proc.stdout), round(time.monotonic() - t0, 1)


def run_extra(row_dir: Path, work: Path, factors: dict, sensitivity: bool = False) -> dict:
    """A row another rebuild describes in ROW_DIR/row.json (name, published_ms, published_source, measure_symbol,
    golden: what its rebuild checked, memory_overrides: the board's memory system as that silicon's start-up code
    set it, with `memory_sources`) beside ROW_DIR/<name>.elf, flags.txt and PROVENANCE."""
    spec = json.loads((row_dir / "row.json").read_text())
    out, elf, published_ms = work / spec["name"], row_dir / f"{spec['name']}.elf", spec["published_ms"]
    row: dict = {k: spec.get(k) for k in ("name", "suite", "kernels", "published_ms", "published_source", "golden")}
    row.update(board=PREDICT_BOARD, run_board=RUN_BOARD, clock_hz=SILICON_HZ, measure=spec["measure_symbol"])
    if not _describe_elf(row, elf, out):
        return row
    row["code"] = _provenance(elf)
    run, row["run_seconds"] = _measured_run(elf, spec["measure_symbol"], out)
    if run["status"] != "exited" or run["exit_code"] != 0 or not run["measurements"]:
        row["status"], row["reason"] = "run failed", run.get("diagnosis") or "no measured call"
        return row
    per = [m["instructions"] for m in run["measurements"]]
    row.update(instructions=int(statistics.median(per)), instructions_per_inference=per,
               instructions_exact=run["instructions_exact"] and run["measurements_exact"],
               golden_match=str(spec.get("golden", "")).startswith("matched"))  # fmt: skip
    # the old factor where its kernel set ran (CMSIS-NN kernels under another runtime); none for other kernels
    kernel_set = "cmsis-nn" if "cmsis-nn" in str(spec.get("kernels")) else None
    row["factor_predicted_ms"] = (
        round(factors[kernel_set] * row["instructions"] / SILICON_HZ * 1000, 2) if kernel_set else None
    )
    row["factor_source"] = (
        f"platforms/{FACTOR_BOARD}.yaml silicon.kernels.cmsis-nn.cycles_per_instruction {factors['cmsis-nn']}"
        if kernel_set
        else f"none: the factors are per kernel set (cmsis-nn, the project's own), and {spec.get('kernels')} is neither"
    )
    if kernel_set:
        row["factor_error_pct"] = _error_pct(row["factor_predicted_ms"], published_ms)
    memory = _predict_memory().model_copy(update=spec.get("memory_overrides") or {})
    row["memory_overrides"], row["memory_sources"] = spec.get("memory_overrides"), spec.get("memory_sources")
    spans = [(m["begin"], m["begin"] + m["instructions"]) for m in run["measurements"]]
    cyc = _cycles(elf, out, spans, memory)
    ms = cyc["median"] / SILICON_HZ * 1000
    row.update(predicted_cycles=cyc["median"], predicted_ms=round(ms, 2), cycles=cyc,
               error_pct=_error_pct(ms, published_ms), status="ok")  # fmt: skip
    if sensitivity:
        row["sensitivity"] = _sensitivity(elf, out, spans, published_ms)
    return row


def run_model(
    model: str, kernels: str, elf_dir: Path, root: Path, work: Path, factors: dict, sensitivity: bool = False
) -> dict:
    """One row: run, golden check, cycle estimate. Only the cmsis-nn build has a published row."""
    name = model if kernels == "cmsis-nn" else f"{model}-{kernels}"
    src, out = elf_dir / name, work / name
    published_ms, task, detail = PUBLISHED[model]
    if kernels != "cmsis-nn":
        published_ms, detail = None, f"none: the published row ran the cmsis-nn build ({detail})"
    row: dict = {
        "name": model if kernels == "cmsis-nn" else f"{model} ({kernels})",
        "kernels": kernels,
        "published_ms": published_ms,
        "published_source": f"{RESULTS.format(task=task)}: {detail}",
        "board": PREDICT_BOARD,
        "run_board": RUN_BOARD,
        "clock_hz": SILICON_HZ,
    }
    elf = src / f"{model}.elf"
    if not _describe_elf(row, elf, out):
        return row
    run, row["run_seconds"] = _measured_run(elf, MEASURE, out)
    if run["status"] != "exited" or run["exit_code"] != 0:
        row["status"], row["reason"] = "run failed", run["diagnosis"]
        return row
    per = [m["instructions"] for m in run["measurements"]]
    console = _console(run)
    x, y = _int8s(console["input_int8"]), _int8s(console["first_output_int8"])
    golden = _golden(_model_bytes(root, model), x)
    arena = re.search(r"arena_used=(\d+)", "\n".join(run.get("console_tail", [])))
    row.update(
        code=_provenance(elf),
        instructions=int(statistics.median(per)),
        instructions_per_inference=per,
        instructions_exact=run["instructions_exact"] and run["measurements_exact"],
        arena_used_bytes=int(arena.group(1)) if arena else None,
        golden_match=bool(np.array_equal(golden, y)),
        first_output_int8=y.tolist(),
        factor_predicted_ms=round(factors[kernels] * statistics.median(per) / SILICON_HZ * 1000, 2),
        factor_source=f"platforms/{FACTOR_BOARD}.yaml silicon.kernels.{kernels}.cycles_per_instruction "
        f"{factors[kernels]}",
    )
    row["status"] = "ok" if row["golden_match"] else "output differs from tflite-micro's interpreter"
    if CYCLES_MISSING:
        row.update(predicted_cycles=None, predicted_ms=None, error_pct=None, cycles_missing=CYCLES_MISSING)
        return row
    spans = [(m["begin"], m["begin"] + m["instructions"]) for m in run["measurements"]]
    try:
        cyc = _cycles(elf, out, spans)
    except (RuntimeError, EngineError, subprocess.TimeoutExpired) as exc:
        row.update(predicted_cycles=None, predicted_ms=None, error_pct=None, cycles_error=str(exc))
        return row
    predicted_ms = cyc["median"] / SILICON_HZ * 1000
    if published_ms:  # the old factor's error on the same row, for comparison (it was calibrated on these boards)
        row["factor_error_pct"] = _error_pct(row["factor_predicted_ms"], published_ms)
    row.update(
        predicted_cycles=cyc["median"],
        predicted_ms=round(predicted_ms, 2),
        error_pct=_error_pct(predicted_ms, published_ms),
        cycles=cyc,
    )
    if sensitivity:
        row["sensitivity"] = _sensitivity(elf, out, spans, published_ms)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--elf-dir", default=os.environ.get("VALIDATION_ELF_DIR"), help="DIR/<model>/<model>.elf ...")
    ap.add_argument("--mlperf-tiny-dir", default=os.environ.get("MLPERF_TINY_DIR"))
    ap.add_argument("--models", default="kws,ic,ad,vww", help="comma-separated: kws, ic, ad, vww")
    ap.add_argument("--kernels", default="cmsis-nn", help="comma-separated: cmsis-nn (the published build), ref")
    ap.add_argument("--work-dir", type=Path, default=None, help="default $COSIM_BUILD_DIR/timing_validation or /tmp")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--sensitivity", action="store_true", help="also cost each row under the SENSITIVITY variants")
    ap.add_argument("--extra-dir", type=Path, action="append", default=[], help="DIR/<row>/row.json: more rows")
    a = ap.parse_args(argv)
    try:
        elf_dir = _dir(a.elf_dir, "VALIDATION_ELF_DIR", ".", "the rebuilt firmwares: DIR/<model>/<model>.elf")
        tiny = _dir(a.mlperf_tiny_dir, "MLPERF_TINY_DIR", ".", "an mlcommons/tiny checkout at v0.5")
        root = _reference_root(tiny)
        models = [m for m in a.models.split(",") if m]
        unknown = [m for m in models if m not in PUBLISHED]
        if unknown:
            raise BadInput(f"--models: unknown {', '.join(unknown)}; known are {', '.join(PUBLISHED)}")
        kernel_sets = [k for k in a.kernels.split(",") if k]
        if not set(kernel_sets) <= {"cmsis-nn", "ref"}:
            raise BadInput(f"--kernels {a.kernels}: expected cmsis-nn and/or ref")
    except BadInput as exc:
        print(f"timing_validation: {exc}", file=sys.stderr)
        return 2
    work = a.work_dir or (
        Path(os.environ["COSIM_BUILD_DIR"]) / "timing_validation" if os.environ.get("COSIM_BUILD_DIR") else None
    )
    work = (work or Path("/tmp/timing_validation-runs")).resolve()
    factors = {k: v.cycles_per_instruction for k, v in load_board(FACTOR_BOARD).silicon.kernels.items()}
    rows = []
    for kernels in kernel_sets:
        for model in models:
            print(f"timing_validation: {model} ({kernels}) ...", file=sys.stderr, flush=True)
            row = run_model(model, kernels, elf_dir, root, work, factors, a.sensitivity)
            rows.append(row)
            summary = {k: row.get(k) for k in ("status", "instructions", "predicted_ms", "error_pct")}
            print(f"  {json.dumps(summary)}", file=sys.stderr)
    for extra in a.extra_dir:
        for row_dir in sorted(p.parent for p in extra.glob("*/row.json")):
            print(f"timing_validation: {row_dir.name} ...", file=sys.stderr, flush=True)
            rows.append(run_extra(row_dir, work, factors, a.sensitivity))
            summary = {k: rows[-1].get(k) for k in ("status", "instructions", "error_pct")}
            print(f"  {json.dumps(summary)}", file=sys.stderr)
    rows += [dict(r, status="not rebuilt") for r in NOT_REBUILT]
    gcc = subprocess.run(["arm-none-eabi-gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    doc = {
        "date": datetime.date.today().isoformat(),
        "compiler": gcc,
        "sources": "each row's `code` (the PROVENANCE line of its firmware)",
        "cycle_model": CYCLES_MISSING or f"tinyml_cosim.cycles at board {PREDICT_BOARD}",
        "method": "instructions: median over the run's Invoke() calls (cosim run --measure, exact); predicted "
        "cycles: median over the same spans of the cycle estimate (snapshots at the firmware's TIM2 CNT read "
        "before and after each Invoke); error_pct = (predicted_ms - published_ms) / published_ms",
        "rows": rows,
    }
    if a.out.is_file():  # sections this script does not write (recorded rebuilds, notes) are kept
        old = json.loads(a.out.read_text())
        doc.update({k: v for k, v in old.items() if k not in doc})
    a.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(a.out)
    print(f"timing_validation: wrote {a.out}", file=sys.stderr)
    failed = [r["name"] for r in rows if r["status"] in FAILED]
    if failed:
        print(f"timing_validation: failed: {', '.join(failed)}", file=sys.stderr)
    return 3 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
