"""CUSTOM:SignalEnergy: numpy golden and host C vs tflite-micro, byte for byte: the whole spectrum and partial
ranges (TFLM leaves the other bins unwritten: only the range is compared there; this kernel writes 0), the
(-32768, -32768) bin whose int32 sum TFLM wraps to 2^31, seeded spectra; refusals of ranges past the spectrum."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import run_graph_c
from hostops import load_op
from signal_models import check, single_op_model
from tflite_writer import T

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("signal_energy", Path(tmp_path_factory.mktemp("op_signal_energy")))


def _model(bins: int, start: int, end: int) -> bytes:
    opts = {"end_index": end, "start_index": start}
    return single_op_model("SignalEnergy", [T("x", (2 * bins,), "int16")], [T("y", (bins,), "uint32")], opts)


@needs_tflm
@pytest.mark.parametrize("seed", range(4))
def test_whole_spectrum(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([7, seed])
    bins = int(rng.integers(1, 300))
    x = rng.integers(-32768, 32768, 2 * bins).astype(np.int16)
    x[:2] = -32768  # 2^30 + 2^30: TFLM's int32 sum wraps, its uint32 store is 2^31
    _, want = check(kernel, _model(bins, 0, bins), x, ["signal_energy"])
    assert want[0] == 2**31


@needs_tflm
def test_partial_range_and_the_unwritten_bins(kernel: tuple[Any, Any]) -> None:
    x = np.random.default_rng(8).integers(-32768, 32768, 2 * 257).astype(np.int16)
    model = _model(257, 5, 241)  # micro_speech's range
    want = run_tflm(model, x)[0][5:241]
    graph = lower_model(parse_tflite(model))
    for got in (run_graph(graph, x), run_graph_c(*kernel, graph, x)):
        np.testing.assert_array_equal(got[5:241], want)
        assert not got[:5].any() and not got[241:].any()


def test_refusals() -> None:
    with pytest.raises(BadInput, match=r"start_index 3, end_index 9: expected 0 <= start <= end <= 8"):
        lower_model(parse_tflite(_model(8, 3, 9)))
    with pytest.raises(BadInput, match=r"start_index 5, end_index 4"):
        lower_model(parse_tflite(_model(8, 5, 4)))
    odd = single_op_model("SignalEnergy", [T("x", (9,), "int16")], [T("y", (4,), "uint32")],
                          {"end_index": 4, "start_index": 0})  # fmt: skip
    with pytest.raises(BadInput, match=r"expected int16 \[2N\] and uint32 \[N\]"):
        lower_model(parse_tflite(odd))
