"""L2_NORMALIZATION (int8): numpy reference and the host-built C kernel vs tflite-micro, byte for byte: rows of
one and of many elements, all-zero rows (sum 0) and rows summing to 1, the rails (sum of squares up to depth *
255^2, where the inverse square root's input is pre-divided by 4), zero points at both ends, seeded random shapes;
and the refusal of any output quantization but 1/128 / 0."""

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
from tinyml_cosim.nn.ops import l2_normalization
from tinyml_cosim.nn.ops.fixed_math import inv_sqrt_multiplier_exp

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
Q_OUT = (1 / 128, 0)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("l2_normalization", Path(tmp_path_factory.mktemp("op_l2_normalization")))


def _check(kernel: tuple[Any, Any], x: np.ndarray, zp: int) -> None:
    want = run_tflm(unary_model("L2_NORMALIZATION", x.shape, (0.03, zp), Q_OUT), x)[0]
    p = l2_normalization.prepare(x.shape, x.shape, (0.03, zp), Q_OUT, "NONE")
    np.testing.assert_array_equal(l2_normalization.reference(p, x), want)
    ffi, lib = kernel
    s = struct(ffi, "cosim_l2norm_t", vars(p), [])
    out = np.zeros(want.size, dtype=np.int8)
    lib.cosim_l2norm_s8(s, ffi.from_buffer("int8_t[]", np.ascontiguousarray(x)), ffi.from_buffer("int8_t[]", out))
    np.testing.assert_array_equal(out.reshape(want.shape), want)


@needs_tflm
@pytest.mark.parametrize("zp", [-128, -1, 0, 37, 127])
def test_l2norm_corners(kernel: tuple[Any, Any], zp: int) -> None:
    rng = np.random.default_rng([23, 1, zp + 128])
    for shape in [(1, 1), (1, 2), (3, 16), (2, 2, 3, 7), (300,)]:
        _check(kernel, rng.integers(-128, 128, size=shape, dtype=np.int8), zp)
        for rail in (-128, 127):
            _check(kernel, np.full(shape, rail, np.int8), zp)
    rows = np.full((4, 5), zp, np.int8)  # sum 0
    rows[1, 2] = np.int8(zp + 1 if zp < 127 else zp - 1)  # sum 1: both take the multiplier of 1
    rows[2, :2] = np.int8(zp + 1 if zp < 127 else zp - 1)  # sum 2, the smallest computed one
    rows[3] = np.where(np.arange(5) % 2 == 0, 127, -128)
    _check(kernel, rows, zp)


@needs_tflm
@pytest.mark.parametrize("seed", range(6))
def test_l2norm_seeded(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([23, 2, seed])
    shape = tuple(int(d) for d in rng.integers(1, 9, size=int(rng.integers(1, 5))))
    _check(kernel, rng.integers(-128, 128, size=shape, dtype=np.int8), int(rng.integers(-128, 128)))


def test_inv_sqrt_is_close_to_one_over_the_square_root() -> None:
    for v in [2, 3, 4, 255, 65025, (1 << 29) - 1, 1 << 29, (1 << 31) - 1]:
        mult, shift = inv_sqrt_multiplier_exp(v)
        assert mult * 2.0 ** (shift - 31) == pytest.approx(v**-0.5, rel=1e-5), v
    assert inv_sqrt_multiplier_exp(0) == inv_sqrt_multiplier_exp(1) == ((1 << 31) - 1, 0)


def test_l2norm_refusals() -> None:
    with pytest.raises(BadInput, match=r"output quantization .*: TFLM's int8 kernel writes scale 1/128, zero point 0"):
        l2_normalization.prepare((1, 4), (1, 4), (0.1, 0), (1 / 128, 1), "NONE")
    with pytest.raises(BadInput, match="fused_activation_function RELU: TFLM takes only NONE"):
        l2_normalization.prepare((1, 4), (1, 4), (0.1, 0), Q_OUT, "RELU")
    with pytest.raises(BadInput, match="input rank 5"):
        l2_normalization.prepare((1,) * 5, (1,) * 5, (0.1, 0), Q_OUT, "NONE")
