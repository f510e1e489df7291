"""Compile the MLPerf Tiny models and record arena bytes (vs TFLM's planned arena), flash bytes, MACs and params.

    python bench/bench_models.py [--board stm32f405] [--out bench/results/models.json]

TFLM numbers come from tflite-micro's RecordingMicroAllocator when the package is installed (else they are null):
`head` is TFLM's non-persistent arena (planned tensors + scratch), the number our arena_bytes compares with; `total`
adds TFLM's persistent runtime structures, which generated C does not need.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sim.boards import load_board  # noqa: E402
from sim.models import compile_model  # noqa: E402

MLPERF = REPO.parent / "shared" / "models" / "mlperf-tiny"
MODELS = ("kws_ref_model", "ad01_int8", "pretrainedResnet_quant")


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
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            cm = compile_model(path, board, Path(d))
            seconds = time.perf_counter() - t0
            c_bytes = (Path(d) / "model.c").stat().st_size
        rows.append(
            {
                "model": name,
                "file_bytes": path.stat().st_size,
                "arena_bytes": cm.arena_bytes,
                "tflm_arena_head_bytes": cm.tflm_arena_head,
                "tflm_arena_total_bytes": cm.tflm_arena_total,
                "tflm_greedy_order_bytes": cm.tflm_greedy_arena_bytes,
                "planner": cm.planner,
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
    args.out.write_text(json.dumps({"board": board.id, "kernels": "ref", "models": rows}, indent=2) + "\n")
    print(f"{'model':26} {'arena':>7} {'TFLM head':>9} {'TFLM total':>10} {'flash':>8} {'MACs':>10} {'params':>8}")
    for r in rows:
        print(
            f"{r['model']:26} {r['arena_bytes']:7} {r['tflm_arena_head_bytes'] or '-':>9} "
            f"{r['tflm_arena_total_bytes'] or '-':>10} {r['flash_bytes']:8} {r['macs']:10} {r['params']:8}"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
