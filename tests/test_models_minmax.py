"""MAXIMUM / MINIMUM int8: C kernel (host build) and numpy golden vs tflite-micro, bit-exact.

TFLM's kernel compares the raw int8 values (no requantization, no Prepare), with TFLite's broadcasting; the cases
cover equal shapes, every broadcast pattern up to 4-D, 2-D tensors, inputs at the rails and inputs whose
quantization differs (TFLM still compares raw values, and so must we).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import build_library, load, run_graph_c
from tflite_writer import Op, T, build_model

from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")

SHAPES = [
    ((1, 4, 5, 3), (1, 4, 5, 3)),
    ((1, 4, 5, 3), (1, 1, 1, 3)),
    ((1, 1, 1, 3), (1, 4, 5, 3)),
    ((1, 4, 1, 3), (1, 1, 5, 3)),
    ((1, 4, 5, 1), (1, 4, 5, 6)),
    ((1, 7), (1, 7)),
    ((1, 7), (1, 1)),
    ((2, 9), (2, 9)),
]


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load(build_library(Path(tmp_path_factory.mktemp("nn_minmax")) / "libcosim_nn.so"))


def _out_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(v) for v in np.broadcast_shapes(a, b))


@needs_tflm
@pytest.mark.parametrize("op", ["MAXIMUM", "MINIMUM"])
@pytest.mark.parametrize(("sa", "sb"), SHAPES, ids=[f"{a}-{b}" for a, b in SHAPES])
def test_min_max_bit_exact(kernels: tuple[Any, Any], op: str, sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    ffi, lib = kernels
    for seed in range(3):
        rng = np.random.default_rng([len(sa), sum(sa), sum(sb), seed])
        same_q = seed != 2  # the last seed: three different quantizations, compared raw as TFLM does
        qa = ([0.05], [3])
        qb = qa if same_q else ([0.2], [-100])
        qy = qa if same_q else ([0.01], [127])
        tensors = [T("a", sa, "int8", *qa), T("b", sb, "int8", *qb), T("y", _out_shape(sa, sb), "int8", *qy)]
        model = build_model(tensors, [Op(op, [0, 1], [2])], [0, 1], [2])
        a = rng.integers(-128, 128, size=sa).astype(np.int8)
        b = rng.integers(-128, 128, size=sb).astype(np.int8)
        if seed == 1:  # the rails on both sides
            a.reshape(-1)[::2], b.reshape(-1)[1::2] = -128, 127
        graph = lower_model(parse_tflite(model))
        want = run_tflm(model, [a, b])[0]
        np.testing.assert_array_equal(run_graph_c(ffi, lib, graph, [a, b]).reshape(want.shape), want)
        np.testing.assert_array_equal(run_graph(graph, [a, b]).reshape(want.shape), want)


@pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
def test_maximum_in_qemu(tmp_path: Path) -> None:
    """Two FC branches joined by MAXIMUM, then MINIMUM with a broadcast row: compiled, built for the board and
    run in the emulator, byte for byte with the golden."""
    from tinyml_cosim.core.boards import load_board
    from tinyml_cosim.orchestrate.model_check import check_model

    rng = np.random.default_rng(9)

    def w(n: int, k: int) -> np.ndarray:
        return rng.integers(-127, 128, (n, k)).astype(np.int8)

    q = ([0.05], [2])
    tensors = [
        T("x", (1, 16), "int8", [0.04], [-5]),
        T("w1", (8, 16), "int8", [0.01], [0], data=w(8, 16)),
        T("w2", (8, 16), "int8", [0.01], [0], data=w(8, 16)),
        T("w3", (1, 16), "int8", [0.01], [0], data=w(1, 16)),
        T("h1", (1, 8), "int8", *q),
        T("h2", (1, 8), "int8", *q),
        T("h3", (1, 1), "int8", *q),
        T("m", (1, 8), "int8", *q),
        T("y", (1, 8), "int8", *q),
    ]
    ops = [
        Op("FULLY_CONNECTED", [0, 1, -1], [4]),
        Op("FULLY_CONNECTED", [0, 2, -1], [5]),
        Op("FULLY_CONNECTED", [0, 3, -1], [6]),
        Op("MAXIMUM", [4, 5], [7]),
        Op("MINIMUM", [7, 6], [8]),
    ]
    model = tmp_path / "minmax.tflite"
    model.write_bytes(build_model(tensors, ops, [0], [8]))
    rep = check_model(model, load_board("stm32f405"), vectors=4)
    assert rep["bit_exact"] is True and rep["mismatched_vectors"] == [] and rep["run_status"] == "exited"
