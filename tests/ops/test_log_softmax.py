"""LOG_SOFTMAX (int8): numpy reference and the host-built C kernel vs tflite-micro, byte for byte, across input
scales from tiny (every difference inside diff_min) to huge (the 2^31 - 1 cap on the multiplier, most differences
cut off by diff_min), constant rows, one-hot rows, the rails, a single column, long rows; the fixed-point log
against math.log; and the refusals (output quantization, input scale)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostops import load_op, struct
from tflite_ops_writer import unary_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.ops import log_softmax
from tinyml_cosim.nn.ops.fixed_math import log_x_ge_1
from tinyml_cosim.nn.quant import f32

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
Q_OUT = (16 / 256, 127)
SCALES = [1e-6, 0.001, 0.0234, 0.1, 0.5, 1.7, 40.0]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("log_softmax", Path(tmp_path_factory.mktemp("op_log_softmax")))


def _check(kernel: tuple[Any, Any], x: np.ndarray, scale: float) -> None:
    want = run_tflm(unary_model("LOG_SOFTMAX", x.shape, (scale, -7), Q_OUT), x)[0]
    p = log_softmax.prepare(x.shape, x.shape, f32(scale), Q_OUT)
    np.testing.assert_array_equal(log_softmax.reference(p, x), want)
    ffi, lib = kernel
    s = struct(ffi, "cosim_log_softmax_t", vars(p), [])
    out = np.zeros(want.size, dtype=np.int8)
    lib.cosim_log_softmax_s8(s, ffi.from_buffer("int8_t[]", np.ascontiguousarray(x)), ffi.from_buffer("int8_t[]", out))
    np.testing.assert_array_equal(out.reshape(want.shape), want)


@needs_tflm
@pytest.mark.parametrize("scale", SCALES)
def test_log_softmax_corners(kernel: tuple[Any, Any], scale: float) -> None:
    rng = np.random.default_rng([24, 1])
    for shape in [(1, 1), (3, 10), (2, 2, 3, 5), (1, 1000)]:
        _check(kernel, rng.integers(-128, 128, size=shape, dtype=np.int8), scale)
        for rail in (-128, 127):  # a constant row: log(depth) below the maximum everywhere
            _check(kernel, np.full(shape, rail, np.int8), scale)
    one_hot = np.full((4, 8), -128, np.int8)
    one_hot[np.arange(4), [0, 3, 7, 5]] = [127, 0, -127, 126]
    _check(kernel, one_hot, scale)
    ramp = np.arange(-128, 128, dtype=np.int64).astype(np.int8).reshape(2, 128)  # every difference once
    _check(kernel, ramp, scale)


@needs_tflm
@pytest.mark.parametrize("seed", range(6))
def test_log_softmax_seeded(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([24, 2, seed])
    shape = tuple(int(d) for d in rng.integers(1, 12, size=int(rng.integers(1, 5))))
    x = rng.integers(-128, 128, size=shape, dtype=np.int8)
    _check(kernel, x, float(10 ** rng.uniform(-4, 1)))


def test_fixed_point_log_is_close_to_the_log() -> None:
    x = np.array([1 << 19, 3 << 18, 1 << 20, 12345678, (1 << 31) - 1], np.int64)  # F12: 1, 1.5, 2, ...
    got = log_x_ge_1(x, 12, 5) / float(1 << 26)
    np.testing.assert_allclose(got, [math.log(v / (1 << 19)) for v in x], atol=1e-6)


def test_log_softmax_refusals() -> None:
    with pytest.raises(BadInput, match=r"output quantization .* needs scale 16/256, zero point 127"):
        log_softmax.prepare((1, 4), (1, 4), 0.1, (16 / 256, 0))
    with pytest.raises(BadInput, match="output quantization"):
        log_softmax.prepare((1, 4), (1, 4), 0.1, (1 / 256, 127))
    with pytest.raises(BadInput, match=r"input scale .* needs it above 2\^-26"):
        log_softmax.prepare((1, 4), (1, 4), 2.0**-26, Q_OUT)
    with pytest.raises(BadInput, match="output shape"):
        log_softmax.prepare((1, 4), (1, 5), 0.1, Q_OUT)
