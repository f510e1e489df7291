"""SUM (int8): numpy reference and the host-built C kernel vs tflite-micro, byte for byte: keep_dims both ways,
negative and repeated axes, every axis, scale ratios above and below one (left and right shifts), ties of the
requantization, the rails (every byte -128 or 127 with extreme zero points), seeded random shapes; and refusals."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostops import load_op, struct
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.ops import reduce_sum
from tinyml_cosim.nn.quant import f32

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("reduce_sum", Path(tmp_path_factory.mktemp("op_reduce_sum")))


def _out_shape(shape: tuple[int, ...], axes: list[int], keep: bool) -> tuple[int, ...]:
    res = {a % len(shape) for a in axes}
    if keep:
        return tuple(1 if d in res else n for d, n in enumerate(shape))
    return tuple(n for d, n in enumerate(shape) if d not in res)


def _check(kernel: tuple[Any, Any], x: np.ndarray, axes: list[int], keep: bool, qi: Any, qo: Any) -> None:
    out_shape = _out_shape(x.shape, axes, keep)
    tensors = [
        T("x", x.shape, "int8", [qi[0]], [qi[1]]),
        T("axes", (len(axes),), "int32", data=np.array(axes, np.int32)),
        T("y", out_shape, "int8", [qo[0]], [qo[1]]),
    ]
    model = build_model(tensors, [Op("SUM", [0, 1], [2], {"keep_dims": keep})], [0], [2])
    want = run_tflm(model, x)[0]
    p = reduce_sum.prepare(x.shape, axes, out_shape, (f32(qi[0]), qi[1]), (f32(qo[0]), qo[1]), keep)
    np.testing.assert_array_equal(reduce_sum.reference(p, x).reshape(want.shape), want)
    ffi, lib = kernel
    s = struct(ffi, "cosim_reduce_sum_t", {k: v for k, v in vars(p).items() if k != "axes"}, [])
    out = np.zeros(want.size, dtype=np.int8)
    lib.cosim_reduce_sum_s8(s, ffi.from_buffer("int8_t[]", np.ascontiguousarray(x)), ffi.from_buffer("int8_t[]", out))
    np.testing.assert_array_equal(out.reshape(want.shape), want)


CORNERS = [
    ((1, 4, 5, 3), [1, 2]),  # global sum pool over H, W
    ((1, 4, 5, 3), [-1]),  # negative axis
    ((2, 3, 4), [0, 2, -1]),  # a repeated axis (TFLM skips it)
    ((3, 1, 2, 2, 4), [0, 1, 2, 3, 4]),  # every axis of a 5-D input
    ((7,), [0]),
]
QUANT = [((0.05, 3), (0.4, -5)), ((0.05, -128), (0.01, 127)), ((0.02, 127), (0.02, -128)), ((0.1, 0), (0.8, 0))]


@needs_tflm
@pytest.mark.parametrize("keep", [True, False])
@pytest.mark.parametrize("case", CORNERS, ids=[f"{c[0]}-{c[1]}" for c in CORNERS])
def test_sum_corners(kernel: tuple[Any, Any], keep: bool, case: tuple[tuple[int, ...], list[int]]) -> None:
    shape, axes = case
    rng = np.random.default_rng([21, 1])
    for qi, qo in QUANT:
        _check(kernel, rng.integers(-128, 128, size=shape, dtype=np.int8), axes, keep, qi, qo)
        for rail in (-128, 127):  # saturation both ways
            _check(kernel, np.full(shape, rail, np.int8), axes, keep, qi, qo)


@needs_tflm
def test_sum_rounding_ties(kernel: tuple[Any, Any]) -> None:
    # scale ratio 1/8 (an exact power of two): sums that are odd multiples of 4 sit exactly on .5 after the shift
    x = np.array([[4, 0], [12, 0], [-4, 0], [-12, 0], [20, 0], [-20, 0]], np.int8)
    _check(kernel, x, [1], False, (0.125, 0), (1.0, 0))
    _check(kernel, x, [1], True, (0.125, 0), (1.0, 1))


@needs_tflm
@pytest.mark.parametrize("seed", range(8))
def test_sum_seeded(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([21, 2, seed])
    rank = int(rng.integers(1, 6))
    shape = tuple(int(d) for d in rng.integers(1, 6, size=rank))
    axes = sorted({int(a) for a in rng.integers(-rank, rank, size=int(rng.integers(1, rank + 1)))})
    qi = (float(rng.uniform(0.002, 0.2)), int(rng.integers(-128, 128)))
    qo = (float(rng.uniform(0.002, 2.0)), int(rng.integers(-128, 128)))
    _check(kernel, rng.integers(-128, 128, size=shape, dtype=np.int8), axes, bool(rng.integers(2)), qi, qo)


def test_sum_refusals() -> None:
    q = (f32(0.1), 0)
    with pytest.raises(BadInput, match="SUM: axis 2 is out of range for a 2-D input"):
        reduce_sum.prepare((1, 4), [2], (1,), q, q, False)
    with pytest.raises(BadInput, match=r"SUM: output shape \[1\]: reducing axes \[1\] gives \[1, 1\]"):
        reduce_sum.prepare((1, 4), [1], (1,), q, q, True)
    with pytest.raises(BadInput, match="SUM: axis is not a constant tensor"):
        reduce_sum.prepare((1, 4), None, (1,), q, q, False)
    with pytest.raises(BadInput, match="SUM: input rank 6"):
        reduce_sum.prepare((1,) * 6, [0], (1,) * 5, q, q, False)
