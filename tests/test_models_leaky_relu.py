"""LEAKY_RELU: C kernel (host build) and numpy golden vs tflite-micro, bit-exact.

TFLM's int8 LEAKY_RELU rescales x - zp by input/output scale at and above the zero point and by alpha times that
below it, both ratios computed in double before QuantizeMultiplier (test_leaky_relu_ties tells that from float32).
The cases cover every int8 input, zero points at the rails, alpha in (0, 1) as Keras uses it, alpha above 1,
negative alpha, and scales that make the multipliers greater than one (left shifts) or tiny. The int16 form (a 16x8
model's, TFLM's same template with the int16 clamp) over every int16 input, with the same corners.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import build_library, load, run_graph_c
from tflite_writer import Op, T, build_model

from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")

ALL_INT8 = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load(build_library(Path(tmp_path_factory.mktemp("nn_leaky")) / "libcosim_nn.so"))


def _model(
    alpha: float, s_in: float, zp_in: int, s_out: float, zp_out: int, shape: tuple[int, ...], dtype: str = "int8"
) -> bytes:
    tensors = [T("x", shape, dtype, [s_in], [zp_in]), T("y", shape, dtype, [s_out], [zp_out])]
    return build_model(tensors, [Op("LEAKY_RELU", [0], [1], {"alpha": alpha})], [0], [1])


def _check(kernels: tuple[Any, Any], model: bytes, x: np.ndarray) -> None:
    ffi, lib = kernels
    graph = lower_model(parse_tflite(model))
    want = run_tflm(model, x)[0]
    np.testing.assert_array_equal(run_graph_c(ffi, lib, graph, x).reshape(want.shape), want)
    np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want)


def _f32(v: float) -> float:
    return float(np.float32(v))


CORNERS = [
    # alpha, input scale, input zp, output scale, output zp
    (0.2, 0.05, 0, 0.05, 0),  # identity multiplier exactly 1: shift 1
    (0.01, 0.1, -128, 0.02, -128),  # the rails
    (0.3, 0.02, 127, 0.05, 127),
    (1.5, 0.05, 3, 0.1, -7),  # alpha above 1
    (-0.5, 0.05, 10, 0.05, 0),  # negative alpha: TFLM negates the product
    (0.2, 0.5, 0, 0.001, 0),  # multipliers far above 1 (left shifts), outputs saturate
    (0.2, 1e-6, 5, 0.1, 0),  # tiny multipliers
    (0.1, 0.0390625, -2, 0.0078125, 1),  # powers of two: rounding ties
]


@needs_tflm
@pytest.mark.parametrize("case", CORNERS, ids=[f"a{c[0]}-s{c[1]}-zp{c[2]}" for c in CORNERS])
def test_leaky_relu_every_int8_input(kernels: tuple[Any, Any], case: tuple[float, float, int, float, int]) -> None:
    alpha, s_in, zp_in, s_out, zp_out = case
    _check(kernels, _model(alpha, _f32(s_in), zp_in, _f32(s_out), zp_out, (1, 256)), ALL_INT8)


@needs_tflm
@pytest.mark.parametrize("seed", range(12))
def test_leaky_relu_seeded(kernels: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([11, seed])
    shape = tuple(int(d) for d in rng.integers(1, 7, size=int(rng.integers(2, 5))))
    shape = (1, *shape[1:])
    alpha = _f32(rng.choice([rng.uniform(0.001, 0.5), rng.uniform(0.5, 3.0), -rng.uniform(0.01, 1.0)]))
    s_in, s_out = _f32(10 ** rng.uniform(-3, -0.5)), _f32(10 ** rng.uniform(-3, -0.5))
    zp_in, zp_out = (int(v) for v in rng.choice([-128, 127, 0, int(rng.integers(-128, 128))], 2))
    x = rng.integers(-128, 128, size=shape).astype(np.int8)
    _check(kernels, _model(alpha, s_in, zp_in, s_out, zp_out, shape), x)


@needs_tflm
@pytest.mark.parametrize("seed", range(16))
def test_leaky_relu_ties(kernels: tuple[Any, Any], seed: int) -> None:
    """Power-of-two-ish scales and alphas like 0.1: products land on rounding ties, where a ratio computed in
    float32 instead of double gives another multiplier and outputs one off."""
    rng = np.random.default_rng([13, seed])
    alpha = _f32(rng.choice([0.1, 0.2, 0.3, 0.01, 0.05, 0.7, 1.1, 0.15]))
    s_in = _f32(2.0 ** -int(rng.integers(3, 9)) * float(rng.choice([1, 1.25, 1.5, 0.75])))
    s_out = _f32(2.0 ** -int(rng.integers(3, 9)) * float(rng.choice([1, 1.25, 1.5, 3])))
    zp_in, zp_out = (int(v) for v in rng.integers(-128, 128, 2))
    _check(kernels, _model(alpha, s_in, zp_in, s_out, zp_out, (1, 256)), ALL_INT8)


ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16).reshape(4, 1, 16384)  # four runs: TFLM's test arena


@needs_tflm
@pytest.mark.parametrize("case", CORNERS, ids=[f"a{c[0]}-s{c[1]}-zp{c[2]}" for c in CORNERS])
def test_leaky_relu_every_int16_input(kernels: tuple[Any, Any], case: tuple[float, float, int, float, int]) -> None:
    """The int8 corners at int16 (zero points scaled to the int16 range: TFLM takes any for LEAKY_RELU)."""
    alpha, s_in, zp_in, s_out, zp_out = case
    model = _model(alpha, _f32(s_in / 256), zp_in * 256, _f32(s_out / 256), zp_out * 256, (1, 16384), "int16")
    assert [layer.kind for layer in lower_model(parse_tflite(model)).layers] == ["leaky_relu_s16"]
    for x in ALL_INT16:
        _check(kernels, model, x)


@pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
def test_leaky_relu_in_qemu(tmp_path: Path) -> None:
    """FC -> LEAKY_RELU -> FC compiled, built for the board (-Werror) and run in the emulator: byte for byte with
    the golden (tflite-micro when installed)."""
    from tinyml_cosim.core.boards import load_board
    from tinyml_cosim.orchestrate.model_check import check_model

    rng = np.random.default_rng(3)
    tensors = [
        T("x", (1, 32), "int8", [0.05], [-4]),
        T("w1", (24, 32), "int8", [0.01], [0], data=rng.integers(-127, 128, (24, 32)).astype(np.int8)),
        T("h", (1, 24), "int8", [0.04], [5]),
        T("a", (1, 24), "int8", [0.03], [-20]),
        T("w2", (6, 24), "int8", [0.02], [0], data=rng.integers(-127, 128, (6, 24)).astype(np.int8)),
        T("y", (1, 6), "int8", [0.05], [1]),
    ]
    ops = [
        Op("FULLY_CONNECTED", [0, 1, -1], [2]),
        Op("LEAKY_RELU", [2], [3], {"alpha": 0.1}),
        Op("FULLY_CONNECTED", [3, 4, -1], [5]),
    ]
    model = tmp_path / "leaky.tflite"
    model.write_bytes(build_model(tensors, ops, [0], [5]))
    rep = check_model(model, load_board("stm32f405"), vectors=4)
    assert rep["bit_exact"] is True and rep["mismatched_vectors"] == [] and rep["run_status"] == "exited"
