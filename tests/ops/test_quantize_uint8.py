"""QUANTIZE of a uint8 model input to int8 and of an int8 tensor to a uint8 model output: every uint8 (int8) value
for corner quantizations (equal scales with zero points 128 apart, TFLM's x ^ 0x80 shortcut; scales far apart;
rounding ties), through the compiler (numpy golden and host-built C) vs tflite-micro; and a uint8-input model in QEMU
(the uint8 output runs there in tests/ops/test_registry.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import build_library, load, run_graph_c
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
ALL_U8 = np.arange(256, dtype=np.uint8).reshape(1, 256)
QUANTS = [
    ((0.0078125, 128), (0.0078125, 0)),  # TFLM's shortcut: x ^ 0x80
    ((1 / 255, 0), (1 / 255, -128)),  # an image in [0, 1]
    ((0.02, 100), (0.5, -3)),  # scales 25x apart: saturates nothing, rounds a lot
    ((0.5, 7), (0.25, 1)),  # powers of two: rounding ties
    ((0.1, 0), (0.001, 0)),  # saturates at the rails
]


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load(build_library(Path(tmp_path_factory.mktemp("nn_q_u8")) / "libcosim_nn.so"))


def _model(
    q_in: tuple[float, int], q_out: tuple[float, int], shape: tuple[int, ...] = (1, 256), types: str = "uint8-int8"
) -> bytes:
    t_in, t_out = types.split("-")
    tensors = [T("x", shape, t_in, [q_in[0]], [q_in[1]]), T("y", shape, t_out, [q_out[0]], [q_out[1]])]
    return build_model(tensors, [Op("QUANTIZE", [0], [1])], [0], [1])


@needs_tflm
@pytest.mark.parametrize(("q_in", "q_out"), QUANTS)
def test_every_uint8_value(kernels: tuple[Any, Any], q_in: tuple[float, int], q_out: tuple[float, int]) -> None:
    model = _model(q_in, q_out)
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == ["quantize_u8"]
    want = run_tflm(model, ALL_U8)[0]
    np.testing.assert_array_equal(run_graph(graph, ALL_U8).reshape(want.shape), want)
    ffi, lib = kernels
    np.testing.assert_array_equal(run_graph_c(ffi, lib, graph, ALL_U8).reshape(want.shape), want)


@needs_tflm
@pytest.mark.parametrize(("q_out", "q_in"), QUANTS)  # the same pairs the other way round
def test_every_int8_value_to_uint8(kernels: tuple[Any, Any], q_in: tuple[float, int], q_out: tuple[float, int]) -> None:
    model = _model(q_in, q_out, types="int8-uint8")
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == ["quantize_s8_u8"]
    x = ALL_U8.view(np.int8)
    want = run_tflm(model, x)[0]
    assert want.dtype == np.uint8
    np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want)
    ffi, lib = kernels
    np.testing.assert_array_equal(run_graph_c(ffi, lib, graph, x).reshape(want.shape), want)


@pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
def test_a_uint8_input_model_in_qemu(tmp_path: Path) -> None:
    """uint8 image bytes -> QUANTIZE -> FULLY_CONNECTED, as a camera model exports it."""
    from tinyml_cosim.orchestrate.model_check import check_model

    rng = np.random.default_rng(4)
    tensors = [
        T("x", (1, 48), "uint8", [1 / 255], [0]),
        T("q", (1, 48), "int8", [1 / 255], [-128]),
        T("w", (6, 48), "int8", [0.01], [0], data=rng.integers(-127, 128, (6, 48)).astype(np.int8)),
        T("y", (1, 6), "int8", [0.05], [2]),
    ]
    model = tmp_path / "u8.tflite"
    model.write_bytes(
        build_model(tensors, [Op("QUANTIZE", [0], [1]), Op("FULLY_CONNECTED", [1, 2, -1], [3])], [0], [3])
    )
    rep = check_model(model, load_board("stm32f405"), vectors=3)
    assert rep["run_status"] == "exited" and rep["bit_exact"] is True and rep["mismatched_vectors"] == [], rep
