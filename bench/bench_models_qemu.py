"""Run the MLPerf Tiny models in QEMU with our kernels and with CMSIS-NN: instructions per inference and per MAC,
per-layer costs, code size of the kernels and the runtime, model flash, bit-exactness on the committed vectors.

    python bench/bench_models_qemu.py [--boards stm32f405,stm32f205] [--out bench/results/models_qemu.json]

CMSIS-NN is measured when CMSIS_NN_DIR points at a checkout (else only `ref`). Instruction counts are QEMU -icount
retired instructions between the model_runner's "inference" span begin and end: exact and repeatable, but not cycles
(a Cortex-M4 SMLAD is one instruction for two MACs; loads and multiplies cost the same here). The per-layer numbers
come from a separate profiling run (one span per layer) and add up to the inference minus a few hundred instructions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tinyml_cosim.core.boards import load_board  # noqa: E402
from tinyml_cosim.orchestrate.model_check import build_runner, code_sizes, run_runner  # noqa: E402

MLPERF = REPO.parent / "shared" / "models" / "mlperf-tiny"
GOLDEN = REPO / "src" / "tinyml_cosim" / "golden"
MODELS = ("kws_ref_model", "ad01_int8", "pretrainedResnet_quant")


def _cmsis_dir() -> Path | None:
    d = os.environ.get("CMSIS_NN_DIR")
    return Path(d) if d and (Path(d) / "Include" / "arm_nnfunctions.h").is_file() else None


def _git_commit(path: Path) -> str | None:
    try:
        r = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return r.stdout.strip()


def measure(name: str, board_id: str, kernels: str) -> dict[str, Any]:
    board = load_board(board_id)
    t0 = time.perf_counter()
    rb = build_runner(MLPERF / f"{name}.tflite", board, kernels)
    build_s = time.perf_counter() - t0
    cm = rb.model
    with np.load(GOLDEN / f"mlperf_{name}.npz") as z:
        xs, ys = list(z["inputs"]), [y.tobytes() for y in z["outputs"]]
    t0 = time.perf_counter()
    res = run_runner(rb, board, xs)
    run_s = time.perf_counter() - t0
    prof = run_runner(rb, board, xs[:1], profile=True)
    ipi = res.instructions
    sizes = code_sizes(rb.build.out_dir, rb.model_dir, _cmsis_dir() if kernels == "cmsis-nn" else None)
    return {
        "model": name,
        "board": board_id,
        "kernels": kernels,
        "bit_exact": res.ok and res.outputs == ys,
        "vectors": len(xs),
        "instructions_per_inference": {
            "seed0": ipi[0],
            "min": min(ipi),
            "median": int(np.median(ipi)),
            "max": max(ipi),
        },
        "instructions_per_mac": round(float(np.median(ipi)) / cm.total_macs, 3),
        "macs": cm.total_macs,
        "simulated_ms_per_inference": round(1e3 * float(np.median(ipi)) / board.clock_hz, 3),
        "code_bytes": {"kernels": sizes["kernels"], "runtime": sizes["runtime"]},
        "model_flash_bytes": {"constants": cm.flash_bytes, "linked": sizes["model"]},
        "arena_bytes": cm.arena_bytes,
        "arena_bytes_without_scratch": cm.arena_bytes_without_scratch,
        "scratch_bytes": {str(i): n for i, n in cm.scratch.items()},  # layer -> CMSIS-NN buffer planned in the arena
        "kernel_fallbacks": res.marks.get("nn_fallbacks"),
        "per_layer": [
            {"layer": i, "op": f"{layer.op_index}:{layer.op}", "macs": layer.macs, "instructions": n}
            for i, (layer, n) in enumerate(zip(cm.layers, prof.layer_instructions[0], strict=True))
        ],
        "build_seconds": round(build_s, 2),
        "run_seconds": round(run_s, 2),
        "elf": str(rb.elf.relative_to(REPO)) if rb.elf.is_relative_to(REPO) else str(rb.elf),
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    by = {(r["model"], r["board"], r["kernels"]): r for r in rows}
    out = [
        "| model | board | own kernels: instr/inference | instr/MAC | CMSIS-NN: instr/inference | instr/MAC | "
        "CMSIS-NN / own | kernel code own / CMSIS-NN | model flash | bit-exact |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (model, board, kernels), r in by.items():
        if kernels != "ref":
            continue
        c = by.get((model, board, "cmsis-nn"))
        own = r["instructions_per_inference"]["median"]
        cells = [
            model,
            board,
            f"{own:,}",
            f"{r['instructions_per_mac']}",
            f"{c['instructions_per_inference']['median']:,}" if c else "-",
            f"{c['instructions_per_mac']}" if c else "-",
            f"{c['instructions_per_inference']['median'] / own:.2f}×" if c else "-",
            f"{r['code_bytes']['kernels']:,} / {c['code_bytes']['kernels']:,}"
            if c
            else f"{r['code_bytes']['kernels']:,}",
            f"{r['model_flash_bytes']['linked']:,}",
            f"{r['vectors']}/{r['vectors']}" if r["bit_exact"] and (c is None or c["bit_exact"]) else "NO",
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", default="stm32f405,stm32f205")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "models_qemu.json")
    args = ap.parse_args()
    if not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")):
        print("needs qemu-system-arm and arm-none-eabi-gcc", file=sys.stderr)
        return 2
    kernel_sets = ["ref", "cmsis-nn"] if _cmsis_dir() else ["ref"]
    rows = []
    for board in args.boards.split(","):
        for name in MODELS:
            if not (MLPERF / f"{name}.tflite").exists():
                print(f"skip {name}: absent", file=sys.stderr)
                continue
            for kernels in kernel_sets:
                row = measure(name, board, kernels)
                print(
                    f"{board} {name} {kernels}: {row['instructions_per_inference']['median']:,} instructions "
                    f"({row['instructions_per_mac']}/MAC), bit-exact {row['bit_exact']}",
                    file=sys.stderr,
                )
                rows.append(row)
    cmsis = _cmsis_dir()
    gcc = subprocess.run(["arm-none-eabi-gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    ratios = {
        f"{r['board']}/{r['model']}": round(
            c["instructions_per_inference"]["median"] / r["instructions_per_inference"]["median"], 3
        )
        for r in rows
        if r["kernels"] == "ref"
        for c in rows
        if c["kernels"] == "cmsis-nn" and (c["model"], c["board"]) == (r["model"], r["board"])
    }
    result = {
        "engine": "qemu",
        "measure": "retired instructions (QEMU -icount) inside the model_runner's 'inference' span",
        "toolchain": gcc,
        "cflags": "-O2 (firmware/Makefile); CMSIS-NN sources add -fbuiltin (firmware/nn/cmsis/cmsis.mk)",
        "cmsis_nn_commit": _git_commit(cmsis) if cmsis else None,
        "cmsis_nn_over_own": ratios,
        "runs": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(rows))
    return 0 if all(r["bit_exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
