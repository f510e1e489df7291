"""HARD_SWISH (int8): numpy reference and the host-built C kernel vs tflite-micro, byte for byte, on every int8 input
for corner quantizations (relu-ish multiplier shifting left and right, the output multiplier at its limit, zero
points at the rails: the int16 wrap of output + zero point) and seeded random ones."""

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
from tinyml_cosim.nn.ops import hard_swish
from tinyml_cosim.nn.quant import f32

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
ALL_INT8 = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("hard_swish", Path(tmp_path_factory.mktemp("op_hard_swish")))


def _check(kernel: tuple[Any, Any], q_in: tuple[float, int], q_out: tuple[float, int], x: np.ndarray) -> None:
    want = run_tflm(unary_model("HARD_SWISH", x.shape, q_in, q_out), x)[0]
    p = hard_swish.prepare(x.size, q_in, q_out)
    np.testing.assert_array_equal(hard_swish.reference(p, x), want)
    ffi, lib = kernel
    out = np.zeros(x.size, dtype=np.int8)
    s = struct(ffi, "cosim_hard_swish_t", vars(p), [])
    lib.cosim_hard_swish_s8(s, ffi.from_buffer("int8_t[]", np.ascontiguousarray(x)), ffi.from_buffer("int8_t[]", out))
    np.testing.assert_array_equal(out.reshape(want.shape), want)


CORNERS = [
    # input scale, input zp, output scale, output zp
    (0.05, 0, 0.03, -20),  # MobileNetV3-like
    (0.1, -128, 0.06, -128),  # rails; relu-ish multiplier shifts left
    (0.5, 127, 0.4, 127),  # large range (left shift saturates), zero point 127
    (0.001, 3, 0.0008, -5),  # relu-ish multiplier shifts right
    (0.0078125, 0, 0.0078125 / 128, 0),  # output multiplier exactly 1 (exponent 1 after rounding? at the limit)
    (0.2, 10, 10.0, 0),  # tiny output multiplier
    (0.02, -3, 0.02 / 100, 100),  # outputs near int16 range: output + zp wraps in int16
]


@needs_tflm
@pytest.mark.parametrize("case", CORNERS, ids=[f"s{c[0]:.3g}-zp{c[1]}-s{c[2]:.3g}-zp{c[3]}" for c in CORNERS])
def test_hard_swish_every_int8_input(kernel: tuple[Any, Any], case: tuple[float, int, float, int]) -> None:
    q_in, q_out = (f32(case[0]), case[1]), (f32(case[2]), case[3])
    try:
        hard_swish.prepare(256, q_in, q_out)
    except BadInput:
        with pytest.raises(Exception):  # noqa: B017 -- TFLM must refuse it too (its error type is not API)
            run_tflm(unary_model("HARD_SWISH", ALL_INT8.shape, q_in, q_out), ALL_INT8)
        return
    _check(kernel, q_in, q_out, ALL_INT8)


@needs_tflm
@pytest.mark.parametrize("seed", range(12))
def test_hard_swish_seeded(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([16, 10, seed])
    s_in = f32(10 ** rng.uniform(-3.5, 0))
    q_out = (f32(s_in / 128 * 10 ** rng.uniform(0.01, 3)), int(rng.integers(-128, 128)))
    _check(kernel, (s_in, int(rng.integers(-128, 128))), q_out, ALL_INT8)


@needs_tflm
def test_hard_swish_refuses_an_output_scale_below_input_over_128() -> None:
    q_in, q_out = (f32(0.05), 0), (f32(0.05 / 256), 0)
    with pytest.raises(BadInput, match=r"HARD_SWISH: output scale .* TFLM refuses it"):
        hard_swish.prepare(4, q_in, q_out)
    with pytest.raises(Exception):  # noqa: B017 -- tflite-micro's error type is not part of its API
        run_tflm(unary_model("HARD_SWISH", (1, 4), q_in, q_out), np.zeros((1, 4), np.int8))
