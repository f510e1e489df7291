"""DIV (int8): numpy reference and the host-built C kernel vs tflite-micro, byte for byte, over every pair of bytes
(each divisor sign, zero divisors, the rails, dividends of 0, quotients small enough that TFLM's final rounding shift
reaches 32 or more, where the x86-built golden masks the shift count), exact .5 ties, broadcasting up to 4-D, scale
ratios from tiny to the largest accepted, every fused activation, seeded random shapes; and the refusals."""

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
from tinyml_cosim.nn.ops import div
from tinyml_cosim.nn.quant import f32

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
Q = tuple[float, int]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("div", Path(tmp_path_factory.mktemp("op_div")))


def _check(kernel: tuple[Any, Any], a: np.ndarray, b: np.ndarray, quant: tuple[Q, Q, Q], act: str = "NONE") -> None:
    out_shape = tuple(int(d) for d in np.broadcast_shapes(a.shape, b.shape))
    model = binary_model("DIV", (a.shape, b.shape, out_shape), quant, {"activation": act})
    want = run_tflm(model, [a, b])[0]
    fq = tuple((f32(s), z) for s, z in quant)
    p = div.prepare((a.shape, b.shape, out_shape), fq, act)  # type: ignore[arg-type]
    np.testing.assert_array_equal(div.reference(p, a, b), want)
    ffi, lib = kernel
    s = struct(ffi, "cosim_div_t", vars(p), [])
    out = np.zeros(want.size, dtype=np.int8)
    fb = ffi.from_buffer
    lib.cosim_div_s8(
        s, fb("int8_t[]", np.ascontiguousarray(a)), fb("int8_t[]", np.ascontiguousarray(b)), fb("int8_t[]", out)
    )
    np.testing.assert_array_equal(out.reshape(want.shape), want)


QUANTS: list[tuple[Q, Q, Q]] = [
    ((0.05, 0), (0.05, 0), (0.1, 0)),
    ((0.1, -128), (0.02, 127), (0.5, -3)),  # a ratio of exactly 10 in double: exact .5 ties, every divisor negative
    ((0.1, 0), (0.02, 0), (0.5, 0)),  # the same ties with divisors of both signs
    ((0.003, 17), (0.5, -40), (0.0001, 127)),  # a large ratio: output shift near the bound
    ((0.5, -5), (0.001, 100), (300.0, -128)),  # a tiny ratio
]


@needs_tflm
@pytest.mark.parametrize("quant", QUANTS, ids=[str(i) for i in range(len(QUANTS))])
def test_div_every_byte_pair(kernel: tuple[Any, Any], quant: tuple[Q, Q, Q]) -> None:
    a, b = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij")
    # zero divisors included: undefined in TFLM's source, its arithmetic gives the rails (0 / 0: the zero point)
    _check(kernel, a.astype(np.int8).reshape(1, 256, 256), b.astype(np.int8).reshape(1, 256, 256), quant)


@needs_tflm
@pytest.mark.parametrize("act", ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])
def test_div_activations_and_broadcast(kernel: tuple[Any, Any], act: str) -> None:
    rng = np.random.default_rng([25, 1])
    a = rng.integers(-128, 128, size=(2, 3, 4, 5), dtype=np.int8)
    b = rng.integers(20, 128, size=(1, 3, 1, 5), dtype=np.int8)  # above its zero point 10: no zero divisor
    _check(kernel, a, b, ((0.05, 3), (0.02, 10), (0.04, -20)), act)
    divisor = np.where(a[:1, :, :1] == 3, 4, a[:1, :, :1]).astype(np.int8)  # no zero divisor (zero point 3)
    _check(kernel, b, divisor, ((0.02, 10), (0.05, 3), (0.04, -20)), act)


@needs_tflm
@pytest.mark.parametrize("seed", range(6))
def test_div_seeded(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([25, 2, seed])
    shape = tuple(int(d) for d in rng.integers(1, 6, size=int(rng.integers(1, 5))))
    b_shape = tuple(d if rng.integers(2) else 1 for d in shape)[int(rng.integers(len(shape))) :]
    quant = tuple((float(10 ** rng.uniform(-3, 0)), int(rng.integers(-128, 128))) for _ in range(3))
    b = rng.integers(-128, 128, size=b_shape, dtype=np.int8)
    b[b == quant[1][1]] = np.int8(quant[1][1] + 1 if quant[1][1] < 127 else 126)
    _check(kernel, rng.integers(-128, 128, size=shape, dtype=np.int8), b, quant)  # type: ignore[arg-type]


def test_div_refusals() -> None:
    q = ((f32(0.1), 0), (f32(0.1), 0), (f32(0.1), 0))
    with pytest.raises(BadInput, match=r"DIV: scale ratio .* is 2\^22 or more"):
        div.prepare(((4,), (4,), (4,)), ((f32(1.0), 0), (f32(1e-4), 0), (f32(1e-4), 0)))
    with pytest.raises(BadInput, match=r"DIV: scale ratio .* is below 2\^-25"):
        div.prepare(((4,), (4,), (4,)), ((f32(1e-6), 0), (f32(10.0), 0), (f32(100.0), 0)))
    with pytest.raises(BadInput, match="fused_activation_function TANH"):
        div.prepare(((4,), (4,), (4,)), q, "TANH")
    with pytest.raises(BadInput, match="output rank 5"):
        div.prepare(((1,) * 5, (1,), (1,) * 5), q)
    with pytest.raises(BadInput, match="do not broadcast"):
        div.prepare(((3,), (4,), (4,)), q)
