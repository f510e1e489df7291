"""QUANTIZE / DEQUANTIZE of the 16x8 path through the compiler (numpy golden and host-built C) vs tflite-micro:
float32 -> int16 (rounding ties, the rails, values far outside the int16 range), every int8 value -> int16, every
int16 value -> int8 and -> int16 (scales far apart, equal, with zero points), every int16 value -> float32; and a
float -> QUANTIZE -> ADD -> LOGISTIC -> DEQUANTIZE 16x8 chain on the host and in QEMU."""

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
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
# every int16 value, in two halves (TFLM's test arena of 256 KiB does not hold all of them in and out at once)
HALVES = np.arange(-32768, 32768, dtype=np.int16).reshape(2, 1, 32768)
ALL_I8 = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
Q = tuple[float, int]


@pytest.fixture(scope="module")
def kernels() -> tuple[Any, Any]:
    return host_kernels()


def _model(dtypes: tuple[str, str], q_in: Q | None, q_out: Q | None, n: int, op: str = "QUANTIZE") -> bytes:
    def t(name: str, dtype: str, q: Q | None) -> T:
        return T(name, (1, n), dtype) if q is None else T(name, (1, n), dtype, [q[0]], [q[1]])

    return build_model([t("x", dtypes[0], q_in), t("y", dtypes[1], q_out)], [Op(op, [0], [1])], [0], [1])


def _check(kernels: tuple[Any, Any], model: bytes, xs: Any, kind: str) -> None:
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == [kind]
    for x in xs:
        want = run_tflm(model, x)[0]
        np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want, err_msg="numpy")
        np.testing.assert_array_equal(run_graph_c(*kernels, graph, x).reshape(want.shape), want, err_msg="C")


def _floats(scale: float) -> np.ndarray:
    """Every rounding tie and its float32 neighbours around the int16 range, the rails, and random values."""
    k = np.arange(-33000, 33000, 7, dtype=np.float64)
    ties = np.float32((k + 0.5) * np.float32(scale))
    near = np.concatenate([ties, np.nextafter(ties, np.float32(np.inf)), np.nextafter(ties, np.float32(-np.inf))])
    rng = np.random.default_rng(5)
    wide = rng.uniform(-3e5, 3e5, 2000).astype(np.float32) * np.float32(scale)
    rails = np.float32([0.0, -0.0, 32767 * scale, -32768 * scale, 1e6 * scale, -1e6 * scale])
    return np.concatenate([near, wide, rails]).astype(np.float32).reshape(1, -1)


@needs_tflm
@pytest.mark.parametrize("q_out", [(1 / 32768, 0), (0.0007, 0), (0.05, 13), (3.0, -300)])
def test_float32_to_int16(kernels: tuple[Any, Any], q_out: Q) -> None:
    x = _floats(q_out[0])
    _check(kernels, _model(("float32", "int16"), None, q_out, x.shape[1]), [x], "quantize_f32_16")


@needs_tflm
@pytest.mark.parametrize(
    ("q_in", "q_out"), [((0.05, -3), (0.05 / 256, 0)), ((0.1, 100), (1e-5, 0)), ((0.5, 0), (1, 7))]
)
def test_every_int8_to_int16(kernels: tuple[Any, Any], q_in: Q, q_out: Q) -> None:
    _check(kernels, _model(("int8", "int16"), q_in, q_out, 256), [ALL_I8], "requantize_8_16")


@needs_tflm
@pytest.mark.parametrize(("q_in", "q_out"), [((1 / 4096, 0), (0.05, -7)), ((1e-4, 0), (1e-4, 0)), ((0.5, 11), (1, 3))])
def test_every_int16_to_int8(kernels: tuple[Any, Any], q_in: Q, q_out: Q) -> None:
    _check(kernels, _model(("int16", "int8"), q_in, q_out, 32768), HALVES, "requantize_16_8")


@needs_tflm
@pytest.mark.parametrize(
    ("q_in", "q_out"),
    [((1 / 4096, 0), (1 / 1024, 0)), ((1e-3, 0), (1e-3, 0)), ((3e-3, 0), (1e-4, 0)), ((0.25, 5), (0.75, -9))],
)
def test_every_int16_to_int16(kernels: tuple[Any, Any], q_in: Q, q_out: Q) -> None:
    _check(kernels, _model(("int16", "int16"), q_in, q_out, 32768), HALVES, "requantize_16_16")


@needs_tflm
@pytest.mark.parametrize("q_in", [(1 / 32768, 0), (0.00123, 0), (7.5, -20)])
def test_every_int16_to_float32(kernels: tuple[Any, Any], q_in: Q) -> None:
    _check(kernels, _model(("int16", "float32"), q_in, None, 32768, "DEQUANTIZE"), HALVES, "dequantize_16")


def test_a_ratio_of_2_to_the_31_is_refused() -> None:
    model = _model(("int16", "int16"), (1.0, 0), (2.0**-32, 0), 4)
    with pytest.raises(BadInput, match=r"QUANTIZE.*input scale / output scale .* is 2\^31 or more"):
        lower_model(parse_tflite(model))


def test_an_unquantized_int16_output_is_refused() -> None:
    model = build_model([T("x", (1, 4), "float32"), T("y", (1, 4), "int16")], [Op("QUANTIZE", [0], [1])], [0], [1])
    with pytest.raises(BadInput, match=r"output tensor 1 'y'.* has no per-tensor quantization"):
        lower_model(parse_tflite(model))


def _chain_model() -> bytes:
    """float32 -> QUANTIZE int16 -> ADD a constant -> LOGISTIC -> DEQUANTIZE float32: a 16x8 model's data path."""
    shape = (1, 4, 4, 6)
    rng = np.random.default_rng(16)
    tensors = [
        T("x", shape, "float32"),
        T("q", shape, "int16", [1 / 4096], [0]),
        T("c", (1, 1, 6), "int16", [1 / 8192], [0], data=rng.integers(-32768, 32768, (1, 1, 6)).astype(np.int16)),
        T("s", shape, "int16", [1 / 3000], [0]),
        T("l", shape, "int16", [1 / 32768], [0]),
        T("y", shape, "float32"),
    ]
    ops = [Op("QUANTIZE", [0], [1]), Op("ADD", [1, 2], [3]), Op("LOGISTIC", [3], [4]), Op("DEQUANTIZE", [4], [5])]
    return build_model(tensors, ops, [0], [5])


@needs_tflm
def test_a_16x8_chain_on_the_host(kernels: tuple[Any, Any]) -> None:
    model = _chain_model()
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == ["quantize_f32_16", "add_16x8", "logistic_16", "dequantize_16"]
    for seed in range(3):
        x = np.random.default_rng(seed).uniform(-9, 9, (1, 4, 4, 6)).astype(np.float32)
        want = run_tflm(model, x)[0]
        np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want, err_msg="numpy")
        np.testing.assert_array_equal(run_graph_c(*kernels, graph, x).reshape(want.shape), want, err_msg="C")


@needs_tflm
@pytest.mark.qemu
@pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
def test_a_16x8_chain_in_qemu(tmp_path: Path) -> None:
    from tinyml_cosim.orchestrate.model_check import check_model

    model = tmp_path / "chain_16x8.tflite"
    model.write_bytes(_chain_model())
    rep = check_model(model, load_board("stm32f405"), vectors=3)
    assert rep["run_status"] == "exited" and rep["bit_exact"] is True and rep["mismatched_vectors"] == [], rep
