"""SQUARED_DIFFERENCE (int8): numpy reference and the host-built C kernel vs tflite-micro, byte for byte: every pair
of int8 inputs for corner quantizations (rails, scales far apart, output multipliers above and far below one) and
seeded random broadcasting shapes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostops import load_op, struct
from tflite_ops_writer import binary_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.ops import squared_difference as sqd
from tinyml_cosim.nn.quant import f32

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
QQQ = tuple[tuple[float, int], tuple[float, int], tuple[float, int]]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("squared_difference", Path(tmp_path_factory.mktemp("op_sqd")))


def _check(kernel: tuple[Any, Any], a: np.ndarray, b: np.ndarray, quant: QQQ) -> None:
    out_shape = tuple(int(d) for d in np.broadcast_shapes(a.shape, b.shape))
    want = run_tflm(binary_model("SQUARED_DIFFERENCE", (a.shape, b.shape, out_shape), quant, {}), [a, b])[0]
    p = sqd.prepare((a.shape, b.shape, out_shape), quant)
    np.testing.assert_array_equal(sqd.reference(p, a, b), want)
    ffi, lib = kernel
    s = struct(ffi, "cosim_squared_difference_t", vars(p), [])
    out = np.zeros(want.size, dtype=np.int8)
    args = (np.ascontiguousarray(a), np.ascontiguousarray(b), out)
    lib.cosim_squared_difference_s8(s, *(ffi.from_buffer("int8_t[]", v) for v in args))
    np.testing.assert_array_equal(out.reshape(want.shape), want)


def _q(s: float, zp: int) -> tuple[float, int]:
    return f32(s), zp


ALL_A = np.arange(-128, 128, dtype=np.int8).reshape(1, 1, 256)
ALL_B = np.arange(-128, 128, dtype=np.int8).reshape(1, 256, 1)
CORNERS: list[QQQ] = [
    (_q(0.05, 0), _q(0.05, 0), _q(0.5, -128)),  # equal scales
    (_q(0.1, -128), _q(0.1, 127), _q(3.0, -128)),  # zero points at the rails
    (_q(0.5, 3), _q(0.001, -7), _q(200.0, -100)),  # input scales 500x apart
    (_q(0.0078125, -1), _q(0.015625, 2), _q(0.0009765625, -128)),  # powers of two: ties; multiplier above one
    (_q(0.01, 0), _q(0.01, 0), _q(50.0, 0)),  # tiny output multiplier
]


@needs_tflm
@pytest.mark.parametrize("case", CORNERS, ids=[str(i) for i in range(len(CORNERS))])
def test_squared_difference_every_input_pair(kernel: tuple[Any, Any], case: QQQ) -> None:
    _check(kernel, ALL_A, ALL_B, case)


@needs_tflm
@pytest.mark.parametrize("seed", range(10))
def test_squared_difference_seeded(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([16, 9, seed])
    rank = int(rng.integers(1, 5))
    out = [int(d) for d in rng.integers(1, 6, size=rank)]
    sa = tuple(d if rng.random() < 0.6 else 1 for d in out)
    sb = tuple(d if rng.random() < 0.6 else 1 for d in out)[int(rng.integers(0, rank)) :] or (1,)
    s1, s2 = 10 ** rng.uniform(-3, 0), 10 ** rng.uniform(-3, 0)
    so = max(s1, s2) ** 2 * 10 ** rng.uniform(0, 4)
    zps = [int(z) for z in rng.integers(-128, 128, size=3)]
    a = rng.integers(-128, 128, size=sa, dtype=np.int8)
    b = rng.integers(-128, 128, size=sb, dtype=np.int8)
    _check(kernel, a, b, (_q(s1, zps[0]), _q(s2, zps[1]), _q(so, zps[2])))


def test_squared_difference_refusals() -> None:
    q = (_q(0.01, 0), _q(0.01, 0), _q(0.02, 0))
    with pytest.raises(BadInput, match=r"SQUARED_DIFFERENCE: input shapes \[2, 4\] and \[3\] do not broadcast"):
        sqd.prepare(((2, 4), (3,), (2, 4)), q)
    with pytest.raises(BadInput, match="SQUARED_DIFFERENCE: output rank 5"):
        sqd.prepare(((1,) * 5, (1,) * 5, (1,) * 5), q)
