"""Compile the MLPerf Tiny models and record arena bytes per kernel set (vs TFLM's planned arena), flash bytes, MACs
and params.

    python bench/bench_models.py [--board stm32f405] [--out bench/results/models.json]

Kernel sets: `ref` (own kernels, no scratch), and `cmsis-nn` with CMSIS-NN's scratch buffers planned into the arena,
sized for CMSIS-NN built for a Cortex-M4 with DSP (stm32f405) and for a Cortex-M3 without (stm32f205). Compiling
needs no CMSIS-NN checkout (the sizes are tinyml_cosim/models/scratch.py's), so every set is always reported.

TFLM numbers come from tflite-micro's RecordingMicroAllocator when the package is installed (else they are null):
`head` is TFLM's non-persistent arena (planned tensors + scratch) with TFLM's reference kernels, which request no
scratch; `total` adds TFLM's persistent runtime structures, which generated C does not need. TFLM built with its
CMSIS-NN kernels requests the same scratch sizes in Prepare (RequestScratchBufferInArena with CMSIS-NN's
get_buffer_size); `tflm_greedy_order_bytes` is TFLM's greedy-by-size planner applied to exactly our buffers, scratch
included, i.e. what TFLM + CMSIS-NN would plan (it equals the measured head for the ref kernel set).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tinyml_cosim.core.boards import load_board  # noqa: E402
from tinyml_cosim.nn.compiler import CompiledModel, compile_model  # noqa: E402

MLPERF = REPO.parent / "shared" / "models" / "mlperf-tiny"
MODELS = ("kws_ref_model", "ad01_int8", "pretrainedResnet_quant")
# kernel set -> (compile_model kernels, DSP build of CMSIS-NN)
KERNEL_SETS: dict[str, tuple[str, bool | None]] = {
    "ref": ("ref", None),
    "cmsis-nn/cortex-m4-dsp": ("cmsis", True),
    "cmsis-nn/cortex-m3": ("cmsis", False),
}


def _ratio(a: int, b: int | None) -> float | None:
    return round(a / b, 4) if b else None


def arena_row(cm: CompiledModel) -> dict[str, Any]:
    return {
        "arena_bytes": cm.arena_bytes,
        "arena_bytes_without_scratch": cm.arena_bytes_without_scratch,
        "scratch_bytes": {str(i): n for i, n in cm.scratch.items()},  # layer -> planned buffer (16-byte aligned)
        "tflm_greedy_order_bytes": cm.tflm_greedy_arena_bytes,
        "planner": cm.planner,
        "vs_tflm_head": _ratio(cm.arena_bytes, cm.tflm_arena_head),
        "vs_tflm_same_buffers": _ratio(cm.arena_bytes, cm.tflm_greedy_arena_bytes),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="stm32f405")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "models.json")
    args = ap.parse_args()
    board = load_board(args.board)
    rows = []
    for name in MODELS:
        path = MLPERF / f"{name}.tflite"
        if not path.exists():
            print(f"skip {name}: {path} is absent", file=sys.stderr)
            continue
        arenas: dict[str, dict[str, Any]] = {}
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            cm = compile_model(path, board, Path(d))
            seconds = time.perf_counter() - t0
            c_bytes = (Path(d) / "model.c").stat().st_size
            for kset, (kernels, dsp) in KERNEL_SETS.items():
                k = cm
                if kernels != "ref":
                    k = compile_model(path, board, Path(d), kernels, compare_tflm=False, dsp=dsp)
                k.tflm_arena_head = cm.tflm_arena_head
                arenas[kset] = arena_row(k)
        rows.append(
            {
                "model": name,
                "file_bytes": path.stat().st_size,
                "arena_bytes": cm.arena_bytes,
                "tflm_arena_head_bytes": cm.tflm_arena_head,
                "tflm_arena_total_bytes": cm.tflm_arena_total,
                "tflm_greedy_order_bytes": cm.tflm_greedy_arena_bytes,
                "planner": cm.planner,
                "arena_by_kernels": arenas,
                "flash_bytes": cm.flash_bytes,
                "macs": cm.total_macs,
                "params": cm.total_params,
                "layers": len(cm.layers),
                "zero_points_folded": sum(layer.folded_zero_point for layer in cm.layers),
                "model_c_bytes": c_bytes,
                "compile_seconds": round(seconds, 3),
                "per_layer": [
                    {
                        "op": f"{layer.op_index}:{layer.op}",
                        "macs": layer.macs,
                        "params": layer.params,
                        "output_bytes": layer.output_bytes,
                    }
                    for layer in cm.layers
                ],
            }
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "board": board.id,
        "kernels": "ref",  # the per-model top-level fields; arena_by_kernels has every kernel set
        "kernel_sets": {k: {"kernels": v[0], "cmsis_nn_dsp": v[1]} for k, v in KERNEL_SETS.items()},
        "models": rows,
    }
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    head = f"{'arena':>7} {'scratch':>8} {'TFLM head':>9} {'ratio':>6} {'TFLM same bufs':>14}"
    print(f"{'model':26} {'kernels':24} {head}")
    for r in rows:
        for kset, a in r["arena_by_kernels"].items():
            scratch = max(a["scratch_bytes"].values(), default=0)
            print(
                f"{r['model']:26} {kset:24} {a['arena_bytes']:7} {scratch:8} {r['tflm_arena_head_bytes'] or '-':>9} "
                f"{a['vs_tflm_head'] or '-':>6} {a['tflm_greedy_order_bytes']:14}"
            )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
