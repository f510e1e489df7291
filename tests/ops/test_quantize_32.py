"""QUANTIZE to and from int32 (TFLM's Requantize: int8 / int16 -> int32, int32 -> int8 / int16) through the
compiler, numpy golden and host-built C vs tflite-micro: every int8 and int16 value, int32 values at the rails and
across the range; and a model ending in an int32 output (as TFLM's own keyword benchmark model does) in QEMU."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import run_graph_c
from kernels_16 import host_kernels
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
HALVES = np.arange(-32768, 32768, dtype=np.int16).reshape(2, 1, 32768)
ALL_I8 = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
Q = tuple[float, int]


@pytest.fixture(scope="module")
def kernels() -> tuple[Any, Any]:
    return host_kernels()


def _model(dtypes: tuple[str, str], q_in: Q, q_out: Q, n: int) -> bytes:
    tensors = [T("x", (1, n), dtypes[0], [q_in[0]], [q_in[1]]), T("y", (1, n), dtypes[1], [q_out[0]], [q_out[1]])]
    return build_model(tensors, [Op("QUANTIZE", [0], [1])], [0], [1])


def _check(kernels: tuple[Any, Any], model: bytes, xs: Any, kind: str) -> None:
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == [kind]
    for x in xs:
        want = run_tflm(model, x)[0]
        np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want, err_msg="numpy")
        np.testing.assert_array_equal(run_graph_c(*kernels, graph, x).reshape(want.shape), want, err_msg="C")


def _int32s() -> np.ndarray:
    rng = np.random.default_rng(11)
    rails = np.array([-(2**31), -(2**31) + 1, -1, 0, 1, 2**31 - 2, 2**31 - 1], dtype=np.int64)
    wide = rng.integers(-(2**31), 2**31, 4000)
    small = rng.integers(-70000, 70000, 4000)
    return np.concatenate([rails, wide, small]).astype(np.int32).reshape(1, -1)


@needs_tflm
@pytest.mark.parametrize(
    ("q_in", "q_out"), [((0.05, -3), (0.05 / 1000, 0)), ((0.1, 100), (1e-9, 4)), ((0.5, 0), (2, 7))]
)
def test_every_int8_to_int32(kernels: tuple[Any, Any], q_in: Q, q_out: Q) -> None:
    """Ratios up to 1e8: results beyond int16, near the int32 rails (saturated as TFLM clamps)."""
    _check(kernels, _model(("int8", "int32"), q_in, q_out, 256), [ALL_I8], "requantize_8_32")


@needs_tflm
@pytest.mark.parametrize(("q_in", "q_out"), [((1 / 32768, 0), (3.0517578e-05, 0)), ((1e-4, 0), (1e-9, -5))])
def test_every_int16_to_int32(kernels: tuple[Any, Any], q_in: Q, q_out: Q) -> None:
    _check(kernels, _model(("int16", "int32"), q_in, q_out, 32768), HALVES, "requantize_16_32")


@needs_tflm
@pytest.mark.parametrize(("dtype", "kind"), [("int8", "requantize_32_8"), ("int16", "requantize_32_16")])
@pytest.mark.parametrize(("q_in", "q_out"), [((1e-6, 0), (0.01, 3)), ((1e-4, 0), (1e-4, 0)), ((2e-3, 0), (3e-8, 0))])
def test_int32_to_int8_and_int16(kernels: tuple[Any, Any], dtype: str, kind: str, q_in: Q, q_out: Q) -> None:
    x = _int32s()
    _check(kernels, _model(("int32", dtype), q_in, q_out, x.shape[1]), [x], kind)


def _keyword_head() -> bytes:
    """int16 features -> QUANTIZE int8 -> FULLY_CONNECTED -> SOFTMAX int8 -> int16 -> QUANTIZE int16 -> int32: the
    tail of TFLM's keyword benchmark model (models/keyword_scrambled.tflite), whose model output is int32."""
    rng = np.random.default_rng(3)
    tensors = [
        T("x", (1, 24), "int16", [0.000625], [0]),
        T("q", (1, 24), "int8", [0.08], [-4]),
        T("w", (4, 24), "int8", [0.02], [0], data=rng.integers(-127, 128, (4, 24)).astype(np.int8)),
        T("b", (4,), "int32", [0.08 * 0.02], [0], data=rng.integers(-500, 500, 4).astype(np.int32)),
        T("l", (1, 4), "int8", [0.15], [2]),
        T("s", (1, 4), "int16", [1 / 65536], [-32768]),
        T("y", (1, 4), "int32", [3.051851e-05], [0]),
    ]
    ops = [Op("QUANTIZE", [0], [1]), Op("FULLY_CONNECTED", [1, 2, 3], [4]), Op("SOFTMAX", [4], [5]),
           Op("QUANTIZE", [5], [6])]  # fmt: skip
    return build_model(tensors, ops, [0], [6])


@needs_tflm
@pytest.mark.qemu
@pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
def test_an_int32_model_output_in_qemu(tmp_path: Path) -> None:
    from tinyml_cosim.orchestrate.model_check import check_model

    model = tmp_path / "keyword_head.tflite"
    model.write_bytes(_keyword_head())
    rep = check_model(model, load_board("stm32f405"), vectors=3)
    assert rep["run_status"] == "exited" and rep["bit_exact"] is True and rep["mismatched_vectors"] == [], rep
    assert rep["golden"] == "tflite-micro"
