"""SOFTMAX int16 (the 16x8 path) through the compiler (numpy golden and host-built C) vs tflite-micro: every int16
value in rows of several depths, rows at the rails and of equal values, input scales and betas far apart (the
multiplier's shift both ways); its tables against the host's expf; SOFTMAX int8 -> int16 (every int8 value, the
differences below diff_min); and what TFLM's Prepare refuses."""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

import numpy as np
import pytest
from hostbuild import run_graph_c
from kernels_16 import KERNEL_SETS, host_kernels
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.ops import softmax_16
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
OUT = (1 / 32768, 0)


@pytest.fixture(scope="module", params=KERNEL_SETS)
def kernels(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    return host_kernels(str(request.param))


def _model(
    shape: tuple[int, ...],
    q_in: tuple[float, int],
    beta: float = 1.0,
    q_out: tuple[float, int] = OUT,
    dtype: str = "int16",
) -> bytes:
    tensors = [T("x", shape, dtype, [q_in[0]], [q_in[1]]), T("y", shape, "int16", [q_out[0]], [q_out[1]])]
    return build_model(tensors, [Op("SOFTMAX", [0], [1], {"beta": beta})], [0], [1])


def _check(kernels: tuple[Any, Any], model: bytes, xs: Any, kind: str = "softmax_16") -> None:
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == [kind]
    for x in xs:
        want = run_tflm(model, x)[0]
        np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want, err_msg="numpy")
        np.testing.assert_array_equal(run_graph_c(*kernels, graph, x).reshape(want.shape), want, err_msg="C")


@needs_tflm
@pytest.mark.parametrize("depth", [1, 2, 16, 64, 1024])
@pytest.mark.parametrize(("scale", "beta"), [(1 / 2048, 1.0), (1e-4, 1.0), (0.01, 0.5), (3e-6, 2.0)])
def test_every_int16_value_in_rows(kernels: tuple[Any, Any], depth: int, scale: float, beta: float) -> None:
    rng = np.random.default_rng(depth)
    values = np.arange(-32768, 32768, dtype=np.int16)
    rng.shuffle(values)
    halves = values.reshape(2, 32768 // depth, depth)
    _check(kernels, _model((32768 // depth, depth), (scale, 0), beta), halves)


@needs_tflm
@pytest.mark.parametrize("scale", [1 / 2048, 0.003])
def test_rails_and_equal_rows(kernels: tuple[Any, Any], scale: float) -> None:
    x = np.zeros((1, 6, 5, 16), np.int16)
    x[0, 0] = 32767
    x[0, 1] = -32768
    x[0, 2, :, 0] = 32767  # one at the top rail, the rest at the bottom
    x[0, 2, :, 1:] = -32768
    x[0, 3] = np.arange(16) * 4369 - 32768  # the whole range in one row
    x[0, 4] = 12345
    x[0, 5, :, ::2] = -32768
    x[0, 5, :, 1::2] = 32767
    _check(kernels, _model((1, 6, 5, 16), (scale, 0)), [x])


@needs_tflm
@pytest.mark.parametrize("depth", [1, 4, 256])
@pytest.mark.parametrize(
    ("q_in", "beta"), [((0.1, -3), 1.0), ((1 / 16, 7), 0.7), ((2.0, -128), 1.0), ((0.004, 0), 2.0)]
)
def test_int8_to_int16_every_int8_value(
    kernels: tuple[Any, Any], depth: int, q_in: tuple[float, int], beta: float
) -> None:
    rng = np.random.default_rng(depth)
    values = np.tile(np.arange(-128, 128, dtype=np.int8), 4)
    rng.shuffle(values)
    model = _model((1024 // depth, depth), q_in, beta, (1 / 65536, -32768), "int8")
    _check(kernels, model, [values.reshape(1024 // depth, depth)], "softmax_8_16")


def test_the_tables_match_the_hosts_expf(monkeypatch: pytest.MonkeyPatch) -> None:
    """The exp table built with the C library's expf (what TFLM's Prepare calls) is the table the compiler emits,
    though expf and exp-in-double-rounded-once differ in the last bit on about 0.1% of all floats."""
    name = ctypes.util.find_library("m")
    if name is None:
        pytest.skip("no C math library")
    expf = ctypes.CDLL(name).expf
    expf.restype, expf.argtypes = ctypes.c_float, [ctypes.c_float]
    exp_lut, recip_lut = softmax_16.tables()
    monkeypatch.setattr(softmax_16, "_exp", lambda x: np.array([expf(float(v)) for v in x], np.float32))
    span = np.float32(65535)
    with_expf = softmax_16.lut_populate(np.float32(10) / span, 32767, np.float32(2) / span, "exp")
    np.testing.assert_array_equal(with_expf, exp_lut)
    assert exp_lut.shape == recip_lut.shape == (513,)
    assert exp_lut[-1] == 32767 and recip_lut[0] == 32767 and 16380 <= recip_lut[-1] <= 16390


@pytest.mark.parametrize(
    ("q_in", "q_out", "message"),
    [
        ((0.001, 5), OUT, r"zero points 5 -> 0: TFLM's int16 SOFTMAX needs both 0"),
        ((0.001, 0), (1 / 32000, 0), r"output scale 3.125e-05: TFLM's int16 SOFTMAX needs 1/32768"),
        ((1e30, 0), OUT, r"input scale \* beta 1e\+30 is out of the range TFLM's int16 SOFTMAX takes"),
    ],
)
def test_what_tflm_refuses(q_in: tuple[float, int], q_out: tuple[float, int], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        lower_model(parse_tflite(_model((1, 4), q_in, 1.0, q_out)))


def test_int8_to_int16_needs_tflms_output_quantization() -> None:
    model = _model((1, 4), (0.1, 0), 1.0, (1 / 32768, 0), "int8")
    with pytest.raises(BadInput, match=r"zero point 0: TFLM's int8 -> int16 SOFTMAX needs 1/65536 and -32768"):
        lower_model(parse_tflite(model))
