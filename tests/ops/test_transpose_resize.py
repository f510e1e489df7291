"""TRANSPOSE and RESIZE_NEAREST_NEIGHBOR (int8 data movement): numpy reference and the host-built C kernels vs
tflite-micro, byte for byte, on seeded random shapes/permutations/sizes and on the option corners (align_corners,
half_pixel_centers, downscaling, 1-D and 5-D transposes)."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostops import load_op, struct
from tflite_ops_writer import const_operand_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.ops import resize_nearest_neighbor as rnn
from tinyml_cosim.nn.ops import transpose

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
Q = (0.05, -3)


def _kernel(op: str, tmp: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op(op, Path(tmp.mktemp(f"op_{op}")))


@pytest.fixture(scope="module")
def transpose_kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    return _kernel("transpose", tmp_path_factory)


@pytest.fixture(scope="module")
def resize_kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    return _kernel("resize_nearest_neighbor", tmp_path_factory)


def _run_c(kernel: tuple[Any, Any], fn: str, ctype: str, fields: dict[str, Any], x: np.ndarray, n_out: int) -> Any:
    ffi, lib = kernel
    keep: list[Any] = []
    p = struct(ffi, ctype, fields, keep)
    src = np.ascontiguousarray(x, dtype=np.int8)
    out = np.zeros(n_out, dtype=np.int8)
    getattr(lib, fn)(p, ffi.from_buffer("int8_t[]", src), ffi.from_buffer("int8_t[]", out))
    return out


def _check_transpose(kernel: tuple[Any, Any], x: np.ndarray, perm: list[int]) -> None:
    out_shape = tuple(x.shape[p] for p in perm)
    want = run_tflm(const_operand_model("TRANSPOSE", x.shape, perm, out_shape, Q, {}), x)[0]
    p = transpose.prepare(x.shape, perm, out_shape)
    np.testing.assert_array_equal(transpose.reference(p, x), want)
    fields = {"out_shape": p.out_shape, "in_strides": p.in_strides}
    got = _run_c(kernel, "cosim_transpose_s8", "cosim_transpose_t", fields, x, x.size)
    np.testing.assert_array_equal(got.reshape(want.shape), want)


@needs_tflm
@pytest.mark.parametrize("rank", [1, 2, 3, 4, 5])
def test_transpose_every_permutation(transpose_kernel: tuple[Any, Any], rank: int) -> None:
    rng = np.random.default_rng([16, 2, rank])
    shape = tuple(range(2, 2 + rank))  # distinct sizes: a wrong stride cannot hide
    x = rng.integers(-128, 128, size=shape, dtype=np.int8)
    perms = list(itertools.permutations(range(rank)))
    for perm in perms if rank < 5 else perms[::7]:
        _check_transpose(transpose_kernel, x, list(perm))


@needs_tflm
@pytest.mark.parametrize("seed", range(8))
def test_transpose_seeded(transpose_kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([16, 3, seed])
    rank = int(rng.integers(2, 6))
    x = rng.integers(-128, 128, size=tuple(int(d) for d in rng.integers(1, 6, size=rank)), dtype=np.int8)
    _check_transpose(transpose_kernel, x, [int(v) for v in rng.permutation(rank)])


@pytest.mark.parametrize(
    ("shape", "perm", "msg"),
    [
        ((1, 2, 3, 4, 5, 6), [0, 1, 2, 3, 4, 5], "input rank 6"),
        ((2, 3), [0, 0], "repeats a dimension"),
        ((2, 3), [0, 2], "entries must lie in"),
        ((2, 3), [0], "has 1 entries"),
        ((2, 3), None, "not a constant tensor"),
    ],
)
def test_transpose_refusals(shape: tuple[int, ...], perm: list[int] | None, msg: str) -> None:
    with pytest.raises(BadInput, match=f"TRANSPOSE: .*{msg}"):
        transpose.prepare(shape, perm, shape)


def _check_resize(kernel: tuple[Any, Any], x: np.ndarray, size: list[int], align: bool, half: bool) -> None:
    out_shape = (x.shape[0], size[0], size[1], x.shape[3])
    opts = {"align_corners": align, "half_pixel_centers": half}
    want = run_tflm(const_operand_model("RESIZE_NEAREST_NEIGHBOR", x.shape, size, out_shape, Q, opts), x)[0]
    p = rnn.prepare(x.shape, size, out_shape, align, half)
    np.testing.assert_array_equal(rnn.reference(p, x), want)
    fields = {k: v if not isinstance(v, tuple) else list(v) for k, v in vars(p).items()}
    got = _run_c(kernel, "cosim_resize_nearest_s8", "cosim_resize_nearest_t", fields, x, int(np.prod(out_shape)))
    np.testing.assert_array_equal(got.reshape(want.shape), want)


OPTIONS = [(False, False), (True, False), (False, True), (True, True)]
SIZES = [
    ((1, 4, 4, 3), [8, 8]),  # the 2x upsampling of detection heads
    ((2, 3, 5, 2), [7, 11]),  # batch 2, odd ratios
    ((1, 7, 9, 1), [3, 4]),  # downscaling
    ((1, 1, 1, 4), [5, 1]),  # a 1x1 source, a size-1 output width (align_corners with out 1)
    ((1, 6, 6, 2), [6, 6]),  # identity size
    ((1, 3, 3, 1), [9, 7]),  # align_corners ties: (in-1)/(out-1) * i lands on .5
]


@needs_tflm
@pytest.mark.parametrize("opts", OPTIONS, ids=[f"align{a:d}-half{h:d}" for a, h in OPTIONS])
@pytest.mark.parametrize("case", SIZES, ids=[f"{c[0]}->{c[1]}" for c in SIZES])
def test_resize_nearest_corners(
    resize_kernel: tuple[Any, Any], case: tuple[tuple[int, ...], list[int]], opts: tuple[bool, bool]
) -> None:
    shape, size = case
    x = np.random.default_rng([16, 4]).integers(-128, 128, size=shape, dtype=np.int8)
    _check_resize(resize_kernel, x, size, *opts)


@needs_tflm
@pytest.mark.parametrize("seed", range(8))
def test_resize_nearest_seeded(resize_kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([16, 5, seed])
    shape = (int(rng.integers(1, 3)), *(int(d) for d in rng.integers(1, 9, size=3)))
    size = [int(d) for d in rng.integers(1, 17, size=2)]
    x = rng.integers(-128, 128, size=shape, dtype=np.int8)
    _check_resize(resize_kernel, x, size, bool(rng.integers(2)), bool(rng.integers(2)))


def test_resize_nearest_refusals() -> None:
    with pytest.raises(BadInput, match="RESIZE_NEAREST_NEIGHBOR: input rank 3"):
        rnn.prepare((1, 4, 4), [8, 8], (1, 8, 8))
    with pytest.raises(BadInput, match="RESIZE_NEAREST_NEIGHBOR: size is not a constant"):
        rnn.prepare((1, 4, 4, 1), None, (1, 8, 8, 1))
    with pytest.raises(BadInput, match=r"RESIZE_NEAREST_NEIGHBOR: output shape \[1, 8, 8, 1\]"):
        rnn.prepare((1, 4, 4, 1), [8, 7], (1, 8, 8, 1))
