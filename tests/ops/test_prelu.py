"""PRELU (int8): numpy reference and the host-built C kernel vs tflite-micro, byte for byte: every int8 input
against every int8 alpha, per-channel alpha broadcasting as Keras writes it, seeded random quantizations (multipliers
above and below one, zero points at the rails)."""

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
from tinyml_cosim.nn.ops import prelu
from tinyml_cosim.nn.quant import f32

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
Q = tuple[float, int]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("prelu", Path(tmp_path_factory.mktemp("op_prelu")))


def _check(kernel: tuple[Any, Any], x: np.ndarray, alpha: np.ndarray, q_in: Q, q_alpha: Q, q_out: Q) -> None:
    out_shape = tuple(int(d) for d in np.broadcast_shapes(x.shape, alpha.shape))
    tensors = [
        T("x", x.shape, "int8", [q_in[0]], [q_in[1]]),
        T("alpha", alpha.shape, "int8", [q_alpha[0]], [q_alpha[1]], data=alpha),
        T("y", out_shape, "int8", [q_out[0]], [q_out[1]]),
    ]
    want = run_tflm(build_model(tensors, [Op("PRELU", [0, 1], [2])], [0], [2]), x)[0]
    p = prelu.prepare((x.shape, alpha.shape, out_shape), q_in, ([q_alpha[0]], [q_alpha[1]]), q_out)
    np.testing.assert_array_equal(prelu.reference(p, x, alpha), want)
    ffi, lib = kernel
    out = np.zeros(want.size, dtype=np.int8)
    args = (np.ascontiguousarray(x), np.ascontiguousarray(alpha), out)
    lib.cosim_prelu_s8(struct(ffi, "cosim_prelu_t", vars(p), []), *(ffi.from_buffer("int8_t[]", v) for v in args))
    np.testing.assert_array_equal(out.reshape(want.shape), want)


ALL_X = np.arange(-128, 128, dtype=np.int8).reshape(1, 256, 1)
ALL_ALPHA = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
CORNERS = [
    ((0.05, 0), (0.01, 0), (0.05, 0)),
    ((0.1, -128), (0.02, 127), (0.08, -128)),  # rails
    ((0.5, 3), (0.004, -7), (0.001, 10)),  # both multipliers above one
    ((0.0078125, 1), (0.0078125, -1), (0.015625, 0)),  # powers of two: ties
    ((1e-4, 5), (0.5, 0), (0.2, -3)),  # tiny multipliers
]


@needs_tflm
@pytest.mark.parametrize("case", CORNERS, ids=[str(i) for i in range(len(CORNERS))])
def test_prelu_every_input_and_alpha(kernel: tuple[Any, Any], case: tuple[Q, Q, Q]) -> None:
    q_in, q_alpha, q_out = ((f32(s), zp) for s, zp in case)
    _check(kernel, ALL_X, ALL_ALPHA, q_in, q_alpha, q_out)


@needs_tflm
@pytest.mark.parametrize("seed", range(10))
def test_prelu_seeded(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([16, 11, seed])
    shape = (1, *(int(d) for d in rng.integers(1, 7, size=3)))
    alpha_shape = [(1, 1, shape[3]), (shape[3],), (1, shape[2], shape[3]), (1,)][int(rng.integers(4))]
    x = rng.integers(-128, 128, size=shape, dtype=np.int8)
    alpha = rng.integers(-128, 128, size=alpha_shape, dtype=np.int8)
    s_in = 10 ** rng.uniform(-3, 0)
    q = [
        (f32(s), int(rng.integers(-128, 128)))
        for s in (s_in, 10 ** rng.uniform(-3, 0), s_in * 10 ** rng.uniform(-1, 1))
    ]
    _check(kernel, x, alpha, *q)


def test_prelu_refuses_per_channel_alpha() -> None:
    with pytest.raises(BadInput, match="PRELU: alpha has 3 scales"):
        prelu.prepare(((1, 3), (3,), (1, 3)), (0.1, 0), ([0.1, 0.2, 0.3], [0, 0, 0]), (0.1, 0))
