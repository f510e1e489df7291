"""CUSTOM:SignalFilterBank: numpy golden and host C vs tflite-micro, byte for byte: seeded mel-like banks (bands of
width 0, overlapping bands), uint32 energies at their top (the uint64 sums of 4096 * (2^32 - 1) terms), a negative
weight (TFLM's int16 * uint64 converts it modulo 2^64: the channel sum wraps), micro_speech's 40 channels over 257
bins; refusals of tables TFLM would read out of bounds."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostops import load_op
from signal_models import check, filter_bank_tables, single_op_model
from tflite_writer import T

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("signal_filter_bank", Path(tmp_path_factory.mktemp("op_signal_filter_bank")))


def _model(bins: int, tables: list[T], channels: int) -> bytes:
    ins = [T("x", (bins,), "uint32"), *tables]
    return single_op_model("SignalFilterBank", ins, [T("y", (channels,), "uint64")], {"num_channels": channels})


@needs_tflm
@pytest.mark.parametrize("seed", range(4))
def test_seeded_banks(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([14, seed])
    bins, channels = int(rng.integers(4, 300)), int(rng.integers(1, 48))
    x = (rng.integers(0, 2**32, bins, dtype=np.uint64) >> rng.integers(0, 32, bins).astype(np.uint64)).astype(np.uint32)
    check(kernel, _model(bins, filter_bank_tables(rng, bins, channels), channels), x, ["signal_filter_bank"])


@needs_tflm
def test_uint32_top_and_micro_speech_size(kernel: tuple[Any, Any]) -> None:
    rng = np.random.default_rng(15)
    tables = filter_bank_tables(rng, 257, 40)
    x = np.full(257, 2**32 - 1, np.uint32)
    _, want = check(kernel, _model(257, tables, 40), x, ["signal_filter_bank"])
    assert int(want.max()) > 2**40  # sums well past 32 bits


@needs_tflm
def test_negative_weight_wraps_the_sum(kernel: tuple[Any, Any]) -> None:
    rng = np.random.default_rng(16)
    tables = filter_bank_tables(rng, 32, 6)
    widths, weight_starts, weights = tables[4].data, tables[3].data, tables[0].data
    assert widths is not None and weight_starts is not None and weights is not None
    band = int(np.flatnonzero(widths[1:])[0]) + 1  # the first band whose weights reach a channel
    w0, n0, w1, n1 = (int(v) for v in (weight_starts[band - 1], widths[band - 1], weight_starts[band], widths[band]))
    weights, unweights = weights.copy(), np.array(tables[1].data)
    weights[w1 : w1 + n1] = -3  # the channel's whole sum negative: 2^64 - 3 * energy
    unweights[w0 : w0 + n0] = 0  # nothing carried from the band before
    tables[0], tables[1] = replace(tables[0], data=weights), replace(tables[1], data=unweights)
    x = rng.integers(1, 2**32, 32, dtype=np.uint64).astype(np.uint32)
    _, want = check(kernel, _model(32, tables, 6), x, ["signal_filter_bank"])
    assert int(want[band - 1]) > 2**63  # -3 * x modulo 2^64


def test_refusals() -> None:
    rng = np.random.default_rng(17)
    tables = filter_bank_tables(rng, 16, 4)
    with pytest.raises(BadInput, match=r"CUSTOM:SignalFilterBank\): freq_starts.* has 5 entries|has 5 entries"):
        lower_model(parse_tflite(_model(16, tables, 5)))
    with pytest.raises(BadInput, match=r"reads past the input or the weights"):
        lower_model(parse_tflite(_model(2, tables, 4)))  # bands laid out over 16 bins, the input has 2
    with pytest.raises(BadInput, match=r"num_channels 0: supported are 1\.\.32766"):
        lower_model(parse_tflite(_model(16, tables, 0)))
