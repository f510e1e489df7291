"""ADD, SUB and MUL int16 (the 16x8 path) through the compiler (numpy golden and host-built C) vs tflite-micro: every
int16 value of input 1 against rails and random values of input 2, scales far apart and equal, zero points (ADD),
every fused activation, seeded random 4-D broadcasts with a constant or an arena operand; and what TFLM refuses."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hostbuild import run_graph_c
from kernels_16 import KERNEL_SETS, host_kernels
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
Q = tuple[float, int]
N = 16384  # TFLM's test arena (256 KiB) holds two inputs and the output of this many int16 values
ACTS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


@pytest.fixture(scope="module", params=KERNEL_SETS)
def kernels(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    return host_kernels(str(request.param))


def _model(op: str, shapes: tuple[tuple[int, ...], ...], quant: tuple[Q, Q, Q], act: str, const: Any = None) -> bytes:
    tensors = [T(n, s, "int16", [q[0]], [q[1]]) for n, s, q in zip(("a", "b", "y"), shapes, quant, strict=True)]
    if const is not None:
        tensors[1].data = np.asarray(const, np.int16).reshape(shapes[1])
    return build_model(tensors, [Op(op, [0, 1], [2], {"activation": act})], [0] if const is not None else [0, 1], [2])


def _check(kernels: tuple[Any, Any], model: bytes, xs: list[np.ndarray], kind: str) -> None:
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == [kind]
    want = run_tflm(model, xs)[0]
    np.testing.assert_array_equal(run_graph(graph, xs).reshape(want.shape), want, err_msg="numpy")
    np.testing.assert_array_equal(run_graph_c(*kernels, graph, xs).reshape(want.shape), want, err_msg="C")


def _every_int16_against(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """All 65536 values of input 1 in four runs, input 2 at the rails, 0 and random."""
    rng = np.random.default_rng(seed)
    a = np.arange(-32768, 32768, dtype=np.int16).reshape(4, 1, N)
    b = rng.integers(-32768, 32768, (4, 1, N)).astype(np.int16)
    b[0, 0, :8] = [-32768, 32767, 0, -1, 1, -32768, 32767, 0]
    return [(a[k], b[k]) for k in range(4)]


ADD_QUANTS = [
    ((1 / 32768, 0), (1 / 32768, 0), (1 / 16384, 0)),  # equal inputs, a power-of-two output
    ((0.001, 0), (0.0002, 0), (0.0011, 0)),  # scales 5x apart
    ((0.05, 0), (1e-6, 0), (0.05, 0)),  # 5e4 apart: input 2 all but vanishes
    ((0.003, 120), (0.002, -77), (0.004, -5)),  # zero points (TFLM takes them for int16 ADD)
    ((0.001, 0), (0.001, 0), (0.001 * 2 / 32767, 0)),  # the smallest output scale TFLM takes: saturates
]


@needs_tflm
@pytest.mark.parametrize("quant", ADD_QUANTS)
@pytest.mark.parametrize("act", ACTS)
def test_add_every_int16_value(kernels: tuple[Any, Any], quant: tuple[Q, Q, Q], act: str) -> None:
    model = _model("ADD", ((1, N), (1, N), (1, N)), quant, act)
    graph = lower_model(parse_tflite(model))
    for a, b in _every_int16_against(len(act)):
        want = run_tflm(model, [a, b])[0]
        np.testing.assert_array_equal(run_graph(graph, [a, b]).reshape(want.shape), want, err_msg="numpy")
        np.testing.assert_array_equal(run_graph_c(*kernels, graph, [a, b]).reshape(want.shape), want, err_msg="C")


@needs_tflm
@pytest.mark.parametrize("quant", ADD_QUANTS)
@pytest.mark.parametrize("act", ["NONE", "RELU_N1_TO_1"])
def test_sub_every_int16_value(kernels: tuple[Any, Any], quant: tuple[Q, Q, Q], act: str) -> None:
    """SUB is ADD's arithmetic with the difference: the same quantizations, the two activations with both rails."""
    model = _model("SUB", ((1, N), (1, N), (1, N)), quant, act)
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == ["sub_16x8"]
    for a, b in _every_int16_against(3 + len(act)):
        want = run_tflm(model, [a, b])[0]
        np.testing.assert_array_equal(run_graph(graph, [a, b]).reshape(want.shape), want, err_msg="numpy")
        np.testing.assert_array_equal(run_graph_c(*kernels, graph, [a, b]).reshape(want.shape), want, err_msg="C")


MUL_QUANTS = [
    ((1 / 32768, 0), (1 / 32768, 0), (1 / 32768, 0)),  # Q0.15 x Q0.15
    ((0.01, 0), (0.02, 0), (1e-6, 0)),  # a multiplier far above 1: saturates
    ((0.001, 0), (3e-4, 0), (0.2, 0)),  # a multiplier far below 1
]


@needs_tflm
@pytest.mark.parametrize("quant", MUL_QUANTS)
@pytest.mark.parametrize("act", ACTS)
def test_mul_every_int16_value(kernels: tuple[Any, Any], quant: tuple[Q, Q, Q], act: str) -> None:
    model = _model("MUL", ((1, N), (1, N), (1, N)), quant, act)
    graph = lower_model(parse_tflite(model))
    for a, b in _every_int16_against(7 + len(act)):
        want = run_tflm(model, [a, b])[0]
        np.testing.assert_array_equal(run_graph(graph, [a, b]).reshape(want.shape), want, err_msg="numpy")
        np.testing.assert_array_equal(run_graph_c(*kernels, graph, [a, b]).reshape(want.shape), want, err_msg="C")


def _random_broadcast(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    rank = int(rng.integers(1, 5))
    out = tuple(int(d) for d in rng.integers(1, 6, rank))
    a = tuple(d if rng.random() < 0.6 else 1 for d in out)
    b = tuple(d if rng.random() < 0.6 else 1 for d in out)[int(rng.integers(0, rank)) :]
    b = b or (1,)
    return a, b, tuple(int(d) for d in np.broadcast_shapes(a, b))


@needs_tflm
@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("seed", range(8))
def test_random_broadcasts(kernels: tuple[Any, Any], op: str, seed: int) -> None:
    rng = np.random.default_rng([seed, len(op)])
    a_shape, b_shape, out = _random_broadcast(rng)
    scales = [float(s) for s in 10.0 ** rng.uniform(-5, -2, 3)]
    zps = [int(z) for z in rng.integers(-300, 300, 3)] if op != "MUL" else [0, 0, 0]
    quant = (scales[0], zps[0]), (scales[1], zps[1]), (max(scales[:2]) * float(rng.uniform(0.5, 4)), zps[2])
    act = ACTS[seed % 4]
    a = rng.integers(-32768, 32768, a_shape).astype(np.int16)
    b = rng.integers(-32768, 32768, b_shape).astype(np.int16)
    kind = f"{op.lower()}_16x8"
    const = seed % 2 == 0  # every other one: input 2 a constant in flash
    model = _model(op, (a_shape, b_shape, out), quant, act, b if const else None)
    _check(kernels, model, [a] if const else [a, b], kind)


def test_add_output_scale_too_small_is_refused() -> None:
    model = _model("ADD", ((1, 4), (1, 4), (1, 4)), ((0.001, 0), (0.001, 0), (0.001 / 32768, 0)), "NONE")
    with pytest.raises(BadInput, match=r"ADD.*output multiplier .*TFLM's int16 ADD needs it in \(0, 1\)"):
        lower_model(parse_tflite(model))


def test_sub_scales_too_far_apart_are_refused() -> None:
    model = _model("SUB", ((1, 4), (1, 4), (1, 4)), ((0.001, 0), (0.001, 0), (0.001 / 32768, 0)), "NONE")
    with pytest.raises(BadInput, match=r"SUB.*output multiplier .*TFLM's int16 SUB needs it in \(0, 1\)"):
        lower_model(parse_tflite(model))


def test_mul_zero_point_is_refused() -> None:
    model = _model("MUL", ((1, 4), (1, 4), (1, 4)), ((0.001, 0), (0.001, 3), (0.001, 0)), "NONE")
    with pytest.raises(BadInput, match=r"MUL.*zero points 0, 3 -> 0: TFLM's int16 MUL needs every zero point 0"):
        lower_model(parse_tflite(model))


def test_mul_int8_output_is_refused() -> None:
    tensors = [T("a", (1, 4), "int16", [0.001], [0]), T("b", (1, 4), "int16", [0.001], [0])]
    tensors.append(T("y", (1, 4), "int8", [0.01], [0]))
    model = build_model(tensors, [Op("MUL", [0, 1], [2])], [0, 1], [2])
    with pytest.raises(BadInput, match=r"output tensor 2 'y' \(int8\[1, 4\]\) is int8, expected int16"):
        lower_model(parse_tflite(model))
