"""RESIZE_BILINEAR (int8): numpy reference and the host-built C kernel vs tflite-micro, byte for byte, for
upsampling, downsampling, 1-pixel sides, align_corners and half_pixel_centers (whose edge fractions go negative), the
rails, bytes that put the 20-bit sum on a rounding tie, seeded random shapes; and the refusals."""

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
from tinyml_cosim.nn.ops import resize_bilinear

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
OPTIONS = [{}, {"align_corners": True}, {"half_pixel_centers": True}]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("resize_bilinear", Path(tmp_path_factory.mktemp("op_resize_bilinear")))


def _check(kernel: tuple[Any, Any], x: np.ndarray, size: list[int], options: dict[str, bool]) -> None:
    out_shape = (x.shape[0], size[0], size[1], x.shape[3])
    model = const_operand_model("RESIZE_BILINEAR", x.shape, size, out_shape, (0.05, -3), options)
    want = run_tflm(model, x)[0]
    p = resize_bilinear.prepare(x.shape, size, out_shape, **options)
    np.testing.assert_array_equal(resize_bilinear.reference(p, x), want)
    ffi, lib = kernel
    keep: list[Any] = []
    fields = {k: list(v) if k in resize_bilinear.TABLES else v for k, v in vars(p).items()}
    s = struct(ffi, "cosim_resize_bilinear_t", fields, keep)
    out = np.zeros(want.size, dtype=np.int8)
    lib.cosim_resize_bilinear_s8(
        s, ffi.from_buffer("int8_t[]", np.ascontiguousarray(x)), ffi.from_buffer("int8_t[]", out)
    )
    np.testing.assert_array_equal(out.reshape(want.shape), want)


SIZES = [
    ((1, 3, 4, 2), [6, 8]),
    ((1, 5, 7, 3), [3, 2]),
    ((2, 1, 1, 2), [3, 4]),
    ((1, 4, 4, 1), [1, 1]),
    ((1, 2, 9, 2), [5, 9]),
]


@needs_tflm
@pytest.mark.parametrize("options", OPTIONS, ids=["plain", "align_corners", "half_pixel"])
@pytest.mark.parametrize("case", SIZES, ids=[f"{c[0]}-{c[1]}" for c in SIZES])
def test_resize_bilinear_corners(
    kernel: tuple[Any, Any], options: dict[str, bool], case: tuple[tuple[int, ...], list[int]]
) -> None:
    shape, size = case
    rng = np.random.default_rng([22, 1])
    _check(kernel, rng.integers(-128, 128, size=shape, dtype=np.int8), size, options)
    for rail in (-128, 127):
        _check(kernel, np.full(shape, rail, np.int8), size, options)
    # alternating rails: every interpolated byte is a mix of -128 and 127, many of them exact .5 ties
    _check(kernel, np.where(np.indices(shape).sum(axis=0) % 2 == 0, 127, -128).astype(np.int8), size, options)


@needs_tflm
def test_resize_bilinear_rounding_ties(kernel: tuple[Any, Any]) -> None:
    # doubling a row of 2 gives the midpoint: (a + b) / 2 lands on .5 for odd sums, both signs
    x = np.array([1, 2, -1, -2, 0, 1, -128, -127], np.int8).reshape(1, 1, 8, 1)
    _check(kernel, x, [1, 16], {})
    _check(kernel, x, [2, 15], {"align_corners": True})


@needs_tflm
@pytest.mark.parametrize("seed", range(8))
def test_resize_bilinear_seeded(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([22, 2, seed])
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(1, 4)))
    size = [int(rng.integers(1, 13)), int(rng.integers(1, 13))]
    _check(kernel, rng.integers(-128, 128, size=shape, dtype=np.int8), size, OPTIONS[seed % 3])


def test_resize_bilinear_refusals() -> None:
    with pytest.raises(BadInput, match="align_corners and half_pixel_centers are both set"):
        resize_bilinear.prepare((1, 2, 2, 1), [4, 4], (1, 4, 4, 1), True, True)
    with pytest.raises(BadInput, match="RESIZE_BILINEAR: input rank 3"):
        resize_bilinear.prepare((2, 2, 1), [4, 4], (4, 4, 1))
    with pytest.raises(BadInput, match="size is not a constant tensor"):
        resize_bilinear.prepare((1, 2, 2, 1), None, (1, 4, 4, 1))
    with pytest.raises(BadInput, match=r"output shape \[1, 4, 3, 1\]: the size tensor makes \[1, 4, 4, 1\]"):
        resize_bilinear.prepare((1, 2, 2, 1), [4, 4], (1, 4, 3, 1))
