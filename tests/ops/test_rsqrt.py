"""RSQRT (int8): numpy reference and the host-built C kernel vs tflite-micro, byte for byte, over every byte at or
above the zero point (0 -> 127, 1, the largest offsets where the inverse square root pre-divides by 4), for scales
that saturate both rails and ones that land mid-range, seeded quantizations; and that TFLM refuses a byte below the
zero point (a negative value) while the kernel gives it what an offset of 1 gives."""

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
from tinyml_cosim.nn.ops import rsqrt
from tinyml_cosim.nn.quant import f32

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("rsqrt", Path(tmp_path_factory.mktemp("op_rsqrt")))


def _kernel_out(kernel: tuple[Any, Any], p: rsqrt.RsqrtParams, x: np.ndarray) -> np.ndarray:
    ffi, lib = kernel
    s = struct(ffi, "cosim_rsqrt_t", vars(p), [])
    out = np.zeros(x.size, dtype=np.int8)
    lib.cosim_rsqrt_s8(s, ffi.from_buffer("int8_t[]", np.ascontiguousarray(x)), ffi.from_buffer("int8_t[]", out))
    return out.reshape(x.shape)


def _check(kernel: tuple[Any, Any], q_in: tuple[float, int], q_out: tuple[float, int]) -> None:
    x = np.arange(q_in[1], 128, dtype=np.int64).astype(np.int8).reshape(1, -1)  # every valid byte
    want = run_tflm(unary_model("RSQRT", x.shape, q_in, q_out), x)[0]
    p = rsqrt.prepare(x.shape, x.shape, (f32(q_in[0]), q_in[1]), (f32(q_out[0]), q_out[1]))
    np.testing.assert_array_equal(rsqrt.reference(p, x), want)
    np.testing.assert_array_equal(_kernel_out(kernel, p, x), want)


QUANTS = [
    ((0.05, -128), (0.02, -128)),
    ((0.05, -128), (0.5, 0)),
    ((1.0, 0), (1 / 128, -128)),  # 1/sqrt(v) for v = 1..127 in 1/128 steps
    ((0.001, -100), (0.3, 127)),
    ((4.0, 50), (0.001, -20)),  # small results: most bytes on the lower rail
    ((2.0**-10, -128), (2.0**-4, -128)),  # powers of two: exact products
]


@needs_tflm
@pytest.mark.parametrize("quant", QUANTS, ids=[str(i) for i in range(len(QUANTS))])
def test_rsqrt_every_byte(kernel: tuple[Any, Any], quant: tuple[tuple[float, int], tuple[float, int]]) -> None:
    _check(kernel, *quant)


@needs_tflm
@pytest.mark.parametrize("seed", range(6))
def test_rsqrt_seeded(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([26, seed])
    q_in = (float(10 ** rng.uniform(-3, 1)), int(rng.integers(-128, 100)))
    _check(kernel, q_in, (float(10 ** rng.uniform(-3, 0)), int(rng.integers(-128, 128))))


@needs_tflm
def test_rsqrt_below_the_zero_point(kernel: tuple[Any, Any]) -> None:
    q_in, q_out = (0.05, 10), (0.02, -128)
    x = np.array([[9, -128, 11]], np.int8)
    with pytest.raises(RuntimeError):  # TFLM: "Rsqrt is only defined for positive values"
        run_tflm(unary_model("RSQRT", x.shape, q_in, q_out), x)
    p = rsqrt.prepare(x.shape, x.shape, (f32(q_in[0]), q_in[1]), (f32(q_out[0]), q_out[1]))
    got = _kernel_out(kernel, p, x)
    assert got.tolist() == [[got[0, 2]] * 3] and got.tolist() == rsqrt.reference(p, x).tolist()


def test_rsqrt_refusals() -> None:
    with pytest.raises(BadInput, match="RSQRT: output shape"):
        rsqrt.prepare((1, 4), (1, 5), (0.1, 0), (0.1, 0))
    with pytest.raises(BadInput, match=r"RSQRT: output multiplier .* underflows"):
        rsqrt.prepare((1, 4), (1, 4), (1.0, 0), (1e12, 0))
