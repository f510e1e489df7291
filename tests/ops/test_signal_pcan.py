"""CUSTOM:SignalPCAN: numpy golden and host C vs tflite-micro, byte for byte: noise estimates at every table segment
edge (0, 1, 2 read the table directly; 2^k - 1, 2^k, 2^k + 1 up to the uint32 top; the fraction's shift turning at
2^11), negative table entries (a gain sign-extended to uint32), the shrink's square / linear edge at 2 << 12,
snr shifts from 0 to 63 (uint64 products truncated to uint32), seeded channels; refusals."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import run_graph_c
from hostops import load_op
from signal_models import single_op_model
from tflite_writer import T

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
NOISE_EDGES = np.array(
    [0, 1, 2, 3, 2**32 - 1, *(v for k in range(2, 32) for v in ((1 << k) - 1, 1 << k, (1 << k) + 1))], np.uint64
).astype(np.uint32)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("signal_pcan", Path(tmp_path_factory.mktemp("op_signal_pcan")))


def _model(n: int, lut: np.ndarray, shift: int, lut_shape: tuple[int, ...] | None = None) -> bytes:
    ins = [T("x", (n,), "uint32"), T("noise", (n,), "uint32"), T("lut", lut_shape or lut.shape, "int16", data=lut)]
    return single_op_model("SignalPCAN", ins, [T("y", (n,), "uint32")], {"snr_shift": shift})


def _lut(rng: np.random.Generator, negative: bool) -> np.ndarray:
    """A gain table shaped like the converter's (falling with the noise, 3 coefficients per segment), or any int16."""
    if negative:
        return rng.integers(-32768, 32768, 125).astype(np.int16)
    seg = np.repeat(np.linspace(32000, 200, 42), 3)[:125]
    return (seg * rng.uniform(0.5, 1.0, 125)).astype(np.int16)


def _check(kernel: tuple[Any, Any], model: bytes, x: np.ndarray, noise: np.ndarray) -> np.ndarray:
    want = run_tflm(model, [x, noise])[0]
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == ["signal_pcan"]
    np.testing.assert_array_equal(run_graph(graph, [x, noise]).reshape(want.shape), want, err_msg="numpy")
    np.testing.assert_array_equal(run_graph_c(*kernel, graph, [x, noise]).reshape(want.shape), want, err_msg="C")
    return want


@needs_tflm
@pytest.mark.parametrize("negative", [False, True])
@pytest.mark.parametrize("shift", [0, 6, 13, 31, 63])
def test_every_segment_edge(kernel: tuple[Any, Any], negative: bool, shift: int) -> None:
    rng = np.random.default_rng([22, shift, negative])
    x = rng.integers(0, 2**32, NOISE_EDGES.size, dtype=np.uint64).astype(np.uint32)
    x[:4] = [0, 1, 2**32 - 1, 8191]
    _check(kernel, _model(NOISE_EDGES.size, _lut(rng, negative), shift), x, NOISE_EDGES)


@needs_tflm
def test_the_shrink_edge(kernel: tuple[Any, Any]) -> None:
    lut = np.zeros(125, np.int16)
    lut[0] = 1  # noise 0: gain 1, snr = the channel itself
    x = np.array([0, 1, 63, 64, 8190, 8191, 8192, 8193, 16383, 16384, 2**31, 2**32 - 1], np.uint64).astype(np.uint32)
    want = _check(kernel, _model(x.size, lut, 0), x, np.zeros(x.size, np.uint32))
    assert want[5] == (8191 * 8191) >> 20 and want[6] == (8192 >> 6) - 64


@needs_tflm
@pytest.mark.parametrize("seed", range(3))
def test_seeded_channels(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([23, seed])
    n = int(rng.integers(1, 80))

    def spread() -> np.ndarray:
        raw = rng.integers(0, 2**32, n, dtype=np.uint64) >> rng.integers(0, 32, n).astype(np.uint64)
        return raw.astype(np.uint32)

    _check(kernel, _model(n, _lut(rng, bool(seed % 2)), int(rng.integers(0, 16))), spread(), spread())


def test_refusals() -> None:
    lut = np.zeros(125, np.int16)
    with pytest.raises(BadInput, match=r"CUSTOM:SignalPCAN\): snr_shift 64: supported are 0\.\.63"):
        lower_model(parse_tflite(_model(4, lut, 64)))
    with pytest.raises(BadInput, match=r"gain lut .*int16\[124\]\): expected a constant int16 vector of 125"):
        lower_model(parse_tflite(_model(4, lut[:124], 6)))
    bad = single_op_model(
        "SignalPCAN", [T("x", (4,), "uint32"), T("noise", (5,), "uint32"), T("lut", (125,), "int16", data=lut)],
        [T("y", (4,), "uint32")], {"snr_shift": 6},
    )  # fmt: skip
    with pytest.raises(BadInput, match=r"noise estimate \[5\], output \[4\]: expected uint32 \[N\] each"):
        lower_model(parse_tflite(bad))
