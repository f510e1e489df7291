"""Standalone RELU / RELU6 (int8): numpy reference and the host-built C kernel vs tflite-micro, byte for byte, on
every int8 input for corner quantizations (rails, multipliers above one, ties) and on seeded random cases."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostops import load_op, struct
from tflite_ops_writer import unary_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.ops import relu
from tinyml_cosim.nn.quant import f32

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
ALL_INT8 = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("relu", Path(tmp_path_factory.mktemp("op_relu")))


def _run_c(kernel: tuple[Any, Any], fn: str, ctype: str, params: Any, x: np.ndarray) -> np.ndarray:
    ffi, lib = kernel
    keep: list[Any] = []
    p = struct(ffi, ctype, vars(params), keep)
    src = np.ascontiguousarray(x, dtype=np.int8)
    out = np.zeros_like(src)
    getattr(lib, fn)(p, ffi.from_buffer("int8_t[]", src), ffi.from_buffer("int8_t[]", out))
    return out


def _check_relu(kernel: tuple[Any, Any], q_in: tuple[float, int], q_out: tuple[float, int], x: np.ndarray) -> None:
    want = run_tflm(unary_model("RELU", x.shape, q_in, q_out), x)[0]
    p = relu.prepare_relu(x.size, *q_in, *q_out)
    np.testing.assert_array_equal(relu.relu_reference(p, x), want)
    np.testing.assert_array_equal(_run_c(kernel, "cosim_relu_s8", "cosim_relu_t", p, x), want)


def _check_relu6(kernel: tuple[Any, Any], q_in: tuple[float, int], q_out: tuple[float, int], x: np.ndarray) -> None:
    want = run_tflm(unary_model("RELU6", x.shape, q_in, q_out), x)[0]
    p = relu.prepare_relu6(x.size, *q_in)
    np.testing.assert_array_equal(relu.relu6_reference(p, x), want)
    np.testing.assert_array_equal(_run_c(kernel, "cosim_relu6_s8", "cosim_relu6_t", p, x), want)


CORNERS = [
    # input scale, input zp, output scale, output zp
    (0.05, 0, 0.05, 0),  # identity
    (0.1, -128, 0.1, -128),  # the rails
    (0.02, 127, 0.05, 127),
    (0.5, 3, 0.001, -7),  # multiplier far above 1: left shift, saturation
    (1e-6, 5, 0.1, 0),  # tiny multiplier
    (0.0390625, -2, 0.078125, 1),  # ratio 1/2 exactly: rounding ties
    (0.0234375, 10, 0.0078125, -20),  # ratio 3: exact
    (0.01, 20, 0.03, 10),  # RELU6: 6.0 quantizes far above 127 (clamped)
    (0.1, -60, 0.1, -60),  # RELU6: 6.0 / 0.1 = 60 exactly in float32? a tie candidate
]


@needs_tflm
@pytest.mark.parametrize("case", CORNERS, ids=[f"s{c[0]}-zp{c[1]}-s{c[2]}-zp{c[3]}" for c in CORNERS])
def test_relu_and_relu6_every_int8_input(kernel: tuple[Any, Any], case: tuple[float, int, float, int]) -> None:
    q_in, q_out = (f32(case[0]), case[1]), (f32(case[2]), case[3])
    _check_relu(kernel, q_in, q_out, ALL_INT8)
    _check_relu6(kernel, q_in, q_out, ALL_INT8)


@needs_tflm
@pytest.mark.parametrize("seed", range(10))
def test_relu_and_relu6_seeded(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([16, 1, seed])
    shape = (1, *(int(d) for d in rng.integers(1, 9, size=int(rng.integers(1, 4)))))
    q_in = (f32(10 ** rng.uniform(-4, 0)), int(rng.integers(-128, 128)))
    q_out = (f32(q_in[0] * 10 ** rng.uniform(-1.5, 1.5)), int(rng.integers(-128, 128)))
    x = rng.integers(-128, 128, size=shape, dtype=np.int8)
    _check_relu(kernel, q_in, q_out, x)
    _check_relu6(kernel, q_in, q_out, x)


def test_relu6_ignores_the_output_quantization() -> None:
    # TFLM clamps the input bytes: a different output scale/zero point does not change them (documented behaviour)
    p = relu.prepare_relu6(256, f32(0.05), -10)
    assert (p.lo, p.hi) == (-10, 110)
    np.testing.assert_array_equal(relu.relu6_reference(p, ALL_INT8), np.clip(ALL_INT8, -10, 110))


@needs_tflm
def test_relu_n1_to_1_is_refused_like_tflm() -> None:
    with pytest.raises(BadInput, match="RELU_N1_TO_1: TFLM has no kernel"):
        relu.refuse_no_kernel("RELU_N1_TO_1")
    with pytest.raises(Exception):  # noqa: B017 -- tflite-micro's own error type is not part of its API
        run_tflm(unary_model("RELU_N1_TO_1", (1, 4), (0.1, 0), (0.1, 0)), np.zeros((1, 4), np.int8))


def test_relu_refuses_non_int8() -> None:
    with pytest.raises(BadInput, match="RELU: input int16 / output int8"):
        relu.check_int8("RELU", "int16", "int8")
