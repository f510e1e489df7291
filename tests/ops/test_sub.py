"""SUB (int8): numpy reference and the host-built C kernel vs tflite-micro, byte for byte: every pair of int8
inputs for corner quantizations (rails, equal scales, scales far apart, power-of-two ties), every fused activation,
seeded random broadcasting shapes; and the refusal of multipliers TFLM's Prepare aborts on."""

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
from tinyml_cosim.nn.ops import sub
from tinyml_cosim.nn.quant import f32

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
QQQ = tuple[tuple[float, int], tuple[float, int], tuple[float, int]]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("sub", Path(tmp_path_factory.mktemp("op_sub")))


def _check(kernel: tuple[Any, Any], a: np.ndarray, b: np.ndarray, quant: QQQ, act: str) -> None:
    out_shape = tuple(int(d) for d in np.broadcast_shapes(a.shape, b.shape))
    model = binary_model("SUB", (a.shape, b.shape, out_shape), quant, {"activation": act})
    want = run_tflm(model, [a, b])[0]
    p = sub.prepare((a.shape, b.shape, out_shape), quant, act)
    np.testing.assert_array_equal(sub.reference(p, a, b), want)
    ffi, lib = kernel
    s = struct(ffi, "cosim_sub_t", vars(p), [])
    a_c, b_c = np.ascontiguousarray(a), np.ascontiguousarray(b)
    out = np.zeros(want.size, dtype=np.int8)
    lib.cosim_sub_s8(s, *(ffi.from_buffer("int8_t[]", v) for v in (a_c, b_c, out)))
    np.testing.assert_array_equal(out.reshape(want.shape), want)


def _q(s: float, zp: int) -> tuple[float, int]:
    return f32(s), zp


# every (a, b) pair: a is a 256-long row, b a 256-long column, broadcast to 256 x 256
ALL_A = np.arange(-128, 128, dtype=np.int8).reshape(1, 1, 256)
ALL_B = np.arange(-128, 128, dtype=np.int8).reshape(1, 256, 1)
CORNERS: list[tuple[QQQ, str]] = [
    ((_q(0.05, 0), _q(0.05, 0), _q(0.1, 0)), "NONE"),  # equal scales
    ((_q(0.1, -128), _q(0.1, 127), _q(0.2, -128)), "NONE"),  # zero points at the rails
    ((_q(0.5, 3), _q(0.001, -7), _q(0.25, 10)), "RELU"),  # input scales 500x apart
    ((_q(0.0078125, -1), _q(0.015625, 2), _q(0.03125, 0)), "RELU6"),  # powers of two: rounding ties
    ((_q(0.02, 5), _q(0.03, -5), _q(0.01, 0)), "RELU_N1_TO_1"),
    ((_q(0.01, 0), _q(0.01, 0), _q(2.0e-8, 0)), "NONE"),  # output multiplier just below one: outputs saturate
    ((_q(0.05, -3), _q(0.04, 6), _q(0.08, 1)), "NONE"),  # ties where float32 ratios differ from TFLM's double ones
]


@needs_tflm
@pytest.mark.parametrize("case", CORNERS, ids=[f"{i}-{c[1]}" for i, c in enumerate(CORNERS)])
def test_sub_every_input_pair(kernel: tuple[Any, Any], case: tuple[QQQ, str]) -> None:
    _check(kernel, ALL_A, ALL_B, *case)


def _shape_pair(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    rank = int(rng.integers(1, 5))
    out = [int(d) for d in rng.integers(1, 6, size=rank)]
    a = [d if rng.random() < 0.6 else 1 for d in out]
    b = [d if rng.random() < 0.6 else 1 for d in out]
    drop = int(rng.integers(0, rank))  # lower-rank operand, broadcast from the left
    return tuple(a), tuple(b[drop:]) or (1,)


@needs_tflm
@pytest.mark.parametrize("seed", range(12))
def test_sub_seeded(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([16, 6, seed])
    sa, sb = _shape_pair(rng)
    s1, s2 = 10 ** rng.uniform(-3, 0), 10 ** rng.uniform(-3, 0)
    so = max(s1, s2) * 10 ** rng.uniform(-0.5, 1)
    quant = (
        _q(s1, int(rng.integers(-128, 128))),
        _q(s2, int(rng.integers(-128, 128))),
        _q(so, int(rng.integers(-128, 128))),
    )
    act = str(rng.choice(sub.ACTIVATIONS))
    a = rng.integers(-128, 128, size=sa, dtype=np.int8)
    b = rng.integers(-128, 128, size=sb, dtype=np.int8)
    _check(kernel, a, b, quant, act)


def test_sub_refusals() -> None:
    shapes = ((1, 4), (1, 4), (1, 4))
    with pytest.raises(BadInput, match=r"SUB: output multiplier .* needs it in \(0, 1\)"):
        sub.prepare(shapes, (_q(0.01, 0), _q(0.01, 0), _q(1e-9, 0)))
    with pytest.raises(BadInput, match="SUB: fused_activation_function TANH"):
        sub.prepare(shapes, (_q(0.01, 0), _q(0.01, 0), _q(0.02, 0)), "TANH")
    with pytest.raises(BadInput, match="SUB: input shapes \\[1, 4\\] and \\[1, 3\\] do not broadcast"):
        sub.prepare(((1, 4), (1, 3), (1, 4)), (_q(0.01, 0), _q(0.01, 0), _q(0.02, 0)))
    with pytest.raises(BadInput, match="SUB: output rank 5"):
        sub.prepare(((1,) * 5, (1,) * 5, (1,) * 5), (_q(0.01, 0), _q(0.01, 0), _q(0.02, 0)))
