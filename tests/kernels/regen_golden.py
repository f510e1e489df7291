"""Regenerate models/golden/ from tflite-micro (run by hand after changing the pinned tflite-micro or the cases):

    python tests/kernels/regen_golden.py

Writes TFLM's outputs for a subset of the seeded kernel cases and for 20 seeded inputs of each MLPerf Tiny model, so
the tests still check bit-exactness when tflite-micro cannot be installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(HERE), str(REPO)]

from cases import GENERATORS, corner_cases, make_case  # noqa: E402

from tinyml_cosim.nn.golden import run_tflm  # noqa: E402

OUT = REPO / "src" / "tinyml_cosim" / "golden"
MLPERF = REPO.parent / "shared" / "models" / "mlperf-tiny"
MLPERF_MODELS = ("kws_ref_model", "ad01_int8", "pretrainedResnet_quant")
N_INPUTS = 20
PER_KIND = 4  # kernel cases kept per generator: small files matter more than coverage here (the live run has it)


def mlperf_inputs(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng([7, seed]).integers(-128, 128, size=shape).astype(np.int8)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for kind in GENERATORS:
        for seed in range(PER_KIND):
            case = make_case(kind, seed)
            key = f"{kind}-{seed}"
            arrays[f"{key}/model"] = np.frombuffer(case.model, np.uint8)
            arrays[f"{key}/n_inputs"] = np.array(len(case.inputs))
            for i, x in enumerate(case.inputs):
                arrays[f"{key}/input{i}"] = x
            arrays[f"{key}/output"] = run_tflm(case.model, case.inputs)[0]
    for i, (name, model, rows) in enumerate(corner_cases()):
        key = f"corner{i:02d}-" + name.replace(" ", "_").replace("/", "_")
        arrays[f"{key}/model"] = np.frombuffer(model, np.uint8)
        arrays[f"{key}/n_inputs"] = np.array(1)
        x = rows[min(len(rows) - 1, 5)]
        arrays[f"{key}/input0"] = x
        arrays[f"{key}/output"] = run_tflm(model, [x])[0]
    np.savez_compressed(OUT / "kernel_cases.npz", **arrays)

    from tinyml_cosim.nn.graph import load_graph

    for name in MLPERF_MODELS:
        path = MLPERF / f"{name}.tflite"
        if not path.exists():
            print(f"skip {name}: {path} missing")
            continue
        shape = load_graph(path).input_tensor.shape
        xs = np.stack([mlperf_inputs(shape, s) for s in range(N_INPUTS)])
        ys = np.stack([run_tflm(path, x)[0] for x in xs])
        np.savez_compressed(OUT / f"mlperf_{name}.npz", inputs=xs, outputs=ys)
    for f in sorted(OUT.glob("*.npz")):
        print(f"{f.name}: {f.stat().st_size} bytes")


if __name__ == "__main__":
    main()
