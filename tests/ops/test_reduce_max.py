"""REDUCE_MAX / REDUCE_MIN (int8): numpy reference and the host-built C kernel vs tflite-micro, byte for byte, on
seeded random shapes and axis sets (negative and repeated axes, keep_dims both ways, every axis, none), plus the
refusal of an output quantization that differs from the input's (TFLM's Eval fails on it)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostops import load_op, struct
from tflite_ops_writer import const_operand_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.ops import reduce_max
from tinyml_cosim.nn.quant import f32

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
Q = (f32(0.07), 4)
OPS = ["REDUCE_MAX", "REDUCE_MIN"]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("reduce_max", Path(tmp_path_factory.mktemp("op_reduce_max")))


def _out_shape(shape: tuple[int, ...], axes: list[int], keep: bool) -> tuple[int, ...]:
    res = {a % len(shape) for a in axes}
    if keep:
        return tuple(1 if d in res else n for d, n in enumerate(shape))
    return tuple(n for d, n in enumerate(shape) if d not in res)


def _check(kernel: tuple[Any, Any], op: str, x: np.ndarray, axes: list[int], keep: bool) -> None:
    out_shape = _out_shape(x.shape, axes, keep)
    model = const_operand_model(op, x.shape, axes, out_shape, Q, {"keep_dims": keep})
    want = run_tflm(model, x)[0]
    p = reduce_max.prepare(op, x.shape, axes, out_shape, Q, Q, keep)
    np.testing.assert_array_equal(reduce_max.reference(op, p, x).reshape(want.shape), want)
    ffi, lib = kernel
    s = struct(ffi, "cosim_reduce_minmax_t", {k: v for k, v in vars(p).items() if k != "axes"}, [])
    out = np.zeros(want.size, dtype=np.int8)
    fn = lib.cosim_reduce_max_s8 if op == "REDUCE_MAX" else lib.cosim_reduce_min_s8
    fn(s, ffi.from_buffer("int8_t[]", np.ascontiguousarray(x)), ffi.from_buffer("int8_t[]", out))
    np.testing.assert_array_equal(out.reshape(want.shape), want)


CORNERS = [
    ((1, 4, 5, 3), [1, 2]),  # global max pool over H, W (the common use)
    ((1, 4, 5, 3), [-1]),  # negative axis
    ((2, 3, 4), [0, 2, -1]),  # a repeated axis (TFLM skips it)
    ((3, 1, 2, 2, 4), [0, 1, 2, 3, 4]),  # every axis of a 5-D input
    ((6,), [0]),
]


@needs_tflm
@pytest.mark.parametrize("keep", [True, False])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("case", CORNERS, ids=[f"{c[0]}-{c[1]}" for c in CORNERS])
def test_reduce_minmax_corners(
    kernel: tuple[Any, Any], op: str, keep: bool, case: tuple[tuple[int, ...], list[int]]
) -> None:
    shape, axes = case
    x = np.random.default_rng([16, 7]).integers(-128, 128, size=shape, dtype=np.int8)
    _check(kernel, op, x, axes, keep)
    _check(kernel, op, np.full(shape, -128 if op == "REDUCE_MAX" else 127, np.int8), axes, keep)  # the start values


@needs_tflm
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("seed", range(8))
def test_reduce_minmax_seeded(kernel: tuple[Any, Any], op: str, seed: int) -> None:
    rng = np.random.default_rng([16, 8, seed])
    rank = int(rng.integers(1, 6))
    shape = tuple(int(d) for d in rng.integers(1, 6, size=rank))
    axes = sorted({int(a) for a in rng.integers(-rank, rank, size=int(rng.integers(1, rank + 1)))})
    _check(kernel, op, rng.integers(-128, 128, size=shape, dtype=np.int8), axes, bool(rng.integers(2)))


def test_reduce_minmax_refusals() -> None:
    with pytest.raises(BadInput, match=r"REDUCE_MAX: output quantization .* TFLM's int8 REDUCE_MAX needs them equal"):
        reduce_max.prepare("REDUCE_MAX", (1, 4), [1], (1,), Q, (f32(0.08), 4), False)
    with pytest.raises(BadInput, match="REDUCE_MIN: axis 2 is out of range for a 2-D input"):
        reduce_max.prepare("REDUCE_MIN", (1, 4), [2], (1,), Q, Q, False)
    with pytest.raises(BadInput, match=r"REDUCE_MAX: output shape \[1\]: reducing axes \[1\] gives \[1, 1\]"):
        reduce_max.prepare("REDUCE_MAX", (1, 4), [1], (1,), Q, Q, True)
