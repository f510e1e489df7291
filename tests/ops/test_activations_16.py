"""LOGISTIC and TANH int16 (the 16x8 path) through the compiler (numpy golden and host-built C) vs tflite-micro:
every int16 input value for the power-of-two input scales TFLM special-cases, general scales near and far from
them (tiny, large, the largest TFLM takes), and what TFLM's Prepare refuses."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hostbuild import run_graph_c
from kernels_16 import host_kernels
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.ops.activations_16 import prepare
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
HALVES = np.arange(-32768, 32768, dtype=np.int16).reshape(2, 1, 32768)
OUT = (1 / 32768, 0)
SCALES = [2.0**-12, 2.0**-11, 2.0**-10, 2.0**-15, 1 / 3000, 0.001, 1e-6, 0.05, 2.5]


@pytest.fixture(scope="module")
def kernels() -> tuple[Any, Any]:
    return host_kernels()


def _model(op: str, q_in: tuple[float, int], q_out: tuple[float, int] = OUT, n: int = 32768) -> bytes:
    tensors = [T("x", (1, n), "int16", [q_in[0]], [q_in[1]]), T("y", (1, n), "int16", [q_out[0]], [q_out[1]])]
    return build_model(tensors, [Op(op, [0], [1])], [0], [1])


@needs_tflm
@pytest.mark.parametrize("op", ["LOGISTIC", "TANH"])
@pytest.mark.parametrize("scale", SCALES)
def test_every_int16_value(kernels: tuple[Any, Any], op: str, scale: float) -> None:
    model = _model(op, (scale, 0))
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == [f"{op.lower()}_16"]
    for x in HALVES:
        want = run_tflm(model, x)[0]
        np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want, err_msg="numpy")
        np.testing.assert_array_equal(run_graph_c(*kernels, graph, x).reshape(want.shape), want, err_msg="C")


def test_power_of_two_scales_take_tflms_special_case() -> None:
    assert prepare("LOGISTIC", 1, (2.0**-12, 0), OUT).input_multiplier == 3
    assert prepare("TANH", 1, (2.0**-11, 0), OUT).input_multiplier == 6
    # 2^-11 is no special case for the logistic: the general multiplier, 6 doubled to 24576, rounded right by 12
    p = prepare("LOGISTIC", 1, (2.0**-11, 0), OUT)
    assert (p.input_multiplier, p.input_left_shift) == (24576, 12)


@pytest.mark.parametrize(
    ("q_in", "q_out", "message"),
    [
        ((0.001, 2), OUT, r"zero points 2 -> 0: TFLM's int16 TANH needs both 0"),
        ((0.001, 0), (1 / 16384, 0), r"output scale 6.10352e-05: TFLM's int16 TANH needs 2\^-15"),
        ((3.0, 0), OUT, r"input scale 3 is too large .* for TFLM's int16 TANH"),
        ((1e-15, 0), OUT, r"input scale 1e-15 is too small for TFLM's int16 TANH"),
    ],
)
def test_what_tflm_refuses(q_in: tuple[float, int], q_out: tuple[float, int], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        lower_model(parse_tflite(_model("TANH", q_in, q_out, 4)))
