"""Every registry operator (nn/ops/) in QEMU: instructions per inference with the project's kernels and, where
CMSIS-NN has a kernel for it, with CMSIS-NN; bit-exactness against tflite-micro; compile time of its model.

    python bench/bench_ops_qemu.py [--board stm32f405] [--only lstm,svdf] [--out bench/results/ops_qemu.json]

Each model is one case of tests/ops/test_registry.py `CASES` (one operator, small seeded shapes), run by
`cosim model check` (`check_model`: compile, build the model runner, run 2 seeded inputs, compare with the golden).
CMSIS-NN is measured when CMSIS_NN_DIR points at a checkout; an operator CMSIS-NN has no kernel for runs the ref
kernel inside the CMSIS-NN build, so only the operators with an adapter in firmware/nn/cmsis/ get a CMSIS-NN column.
Instruction counts are QEMU -icount retired instructions of the "inference" span: exact and repeatable, not cycles.
Compile time (`compile_model`, lowering to emitted C, no C compiler) is wall time and depends on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# the test support modules and the registry's cases, as pytest's pythonpath (pyproject.toml) puts them
for _d in ("tests", "tests/support", "tests/ops"):
    sys.path.insert(0, str(REPO / _d))

from test_registry import CASES, Case  # noqa: E402
from tflite_custom_writer import custom_model  # noqa: E402
from tflite_writer import Op, T, build_model  # noqa: E402

from tinyml_cosim.core.boards import load_board  # noqa: E402
from tinyml_cosim.core.errors import CosimError  # noqa: E402
from tinyml_cosim.nn.compiler import CompiledModel, compile_model  # noqa: E402
from tinyml_cosim.nn.ops import BY_KIND  # noqa: E402
from tinyml_cosim.orchestrate.model_check import check_model  # noqa: E402

CMSIS_ADAPTERS = REPO / "src" / "tinyml_cosim" / "firmware" / "nn" / "cmsis"
# operators of nn/graph.py whose CMSIS-NN adapter is new (the registry's cases cover the registry's operators)
EXTRA_CASES = [
    Case(
        "mul_same_shape",
        "MUL",
        [T("a", (1, 8, 8, 16), "int8", [0.05], [3]), T("b", (1, 8, 8, 16), "int8", [0.04], [-2]),
         T("y", (1, 8, 8, 16), "int8", [0.1], [1])],
        [Op("MUL", [0, 1], [2])],
        2,
    ),
]  # fmt: skip


def _cmsis_dir() -> Path | None:
    d = os.environ.get("CMSIS_NN_DIR")
    return Path(d) if d and (Path(d) / "Include" / "arm_nnfunctions.h").is_file() else None


# the operators lowered in nn/graph.py whose C file has a CMSIS-NN adapter
GRAPH_ADAPTERS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "conv", "FULLY_CONNECTED": "fc", "ADD": "eltwise",
                  "MUL": "eltwise", "AVERAGE_POOL_2D": "pool", "MAX_POOL_2D": "pool", "SOFTMAX": "softmax"}  # fmt: skip


def cmsis_kernels(cm: CompiledModel) -> list[str]:
    """The adapters in firmware/nn/cmsis/ the model's layers would run in a CMSIS-NN build (an adapter replaces the
    ref file of its name); empty: every layer stays on the ref kernels."""
    assert cm.graph is not None
    stems = []
    for layer in cm.graph.layers:
        op = BY_KIND.get(layer.kind)
        stem = Path(op.header).stem if op is not None else GRAPH_ADAPTERS.get(layer.op_name)
        adapter = CMSIS_ADAPTERS / f"{stem}.c"
        if not stem or not adapter.is_file() or stem in stems:
            continue
        # a registry kernel the adapter file only takes over from the ref file it includes (SUB 16x8 beside the
        # adapted ADD / MUL) stays the ref kernel: counted only where the adapter defines the kernel itself
        if op is None or re.search(rf"\bvoid {op.cfunc}\(", adapter.read_text()):
            stems.append(stem)
    return stems


def measure(case: Case, board_id: str, kernel_sets: list[str], work: Path) -> dict[str, Any]:
    board = load_board(board_id)
    model = work / f"{case.id}.tflite"
    inputs = [i for i, t in enumerate(case.tensors) if t.data is None and i != case.output and i in case.ops[0].inputs]
    if case.custom is not None:  # CUSTOM operators' flexbuffer options (TFLM's Signal library)
        model.write_bytes(custom_model(case.tensors, case.ops, inputs, [case.output], case.custom))
    else:
        model.write_bytes(build_model(case.tensors, case.ops, inputs, [case.output]))
    t0 = time.perf_counter()
    cm = compile_model(model, board, work / f"{case.id}-compiled")
    compile_s = time.perf_counter() - t0
    row: dict[str, Any] = {
        "case": case.id,
        "builtin": case.builtin,
        "output_elements": int(np.prod(cm.output.shape)),
        "macs": cm.total_macs,
        "arena_bytes": cm.arena_bytes,
        "compile_seconds": round(compile_s, 3),
        "cmsis_nn_adapters": cmsis_kernels(cm),
    }
    for kernels in kernel_sets:
        if kernels == "cmsis-nn" and not row["cmsis_nn_adapters"]:
            continue
        try:
            rep = check_model(model, board, kernels=kernels, vectors=2)
        except CosimError as e:  # a case the pinned toolchain cannot run: recorded, the others still measured
            row[kernels] = {"bit_exact": None, "error": str(e)}
            continue
        ipi = list(rep.get("instructions_per_inference") or [])  # type: ignore[call-overload]
        row[kernels] = {
            "bit_exact": rep.get("bit_exact"),
            "run_status": rep.get("run_status"),
            "instructions_per_inference": ipi[0] if ipi else None,
        }
    return row


def cmsis_ratios(rows: list[dict[str, Any]]) -> list[tuple[str, int, int, float]]:
    """(case, own, CMSIS-NN, ratio) for every case measured with both kernel sets."""
    out = []
    for r in rows:
        own, cm = (
            r.get("ref", {}).get("instructions_per_inference"),
            r.get("cmsis-nn", {}).get("instructions_per_inference"),
        )
        if own and cm:
            out.append((r["case"], own, cm, round(cm / own, 3)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="stm32f405")
    ap.add_argument("--only", default="", help="comma-separated case ids or builtins (default: every case)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "ops_qemu.json")
    args = ap.parse_args()
    only = {s.strip().lower() for s in args.only.split(",") if s.strip()}
    cases = [c for c in [*CASES, *EXTRA_CASES] if not only or c.id in only or c.builtin.lower() in only]
    kernel_sets = ["ref", *(["cmsis-nn"] if _cmsis_dir() else [])]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            try:
                row = measure(case, args.board, kernel_sets, Path(tmp))
            except CosimError as e:  # refused by the compiler (an operator still in progress): recorded
                row = {"case": case.id, "builtin": case.builtin, "error": str(e)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    result = {
        "benchmark": "bench/bench_ops_qemu.py",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "board": args.board,
        "kernel_sets": kernel_sets,
        "cmsis_nn_dir": str(_cmsis_dir()) if _cmsis_dir() else None,
        "rows": rows,
        "cmsis_nn_vs_own": [
            {"case": c, "own": own, "cmsis_nn": cm, "ratio": ratio} for c, own, cm, ratio in cmsis_ratios(rows)
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return (
        0
        if all(r[k]["bit_exact"] for r in rows for k in kernel_sets if k in r) and not any("error" in r for r in rows)
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
