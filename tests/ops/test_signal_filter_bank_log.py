"""CUSTOM:SignalFilterBankLog: numpy golden and host C vs tflite-micro, byte for byte: 0, 1 and 2 (the "above 1"
edge), every power of two and its neighbours (the leading-bit and table-segment edges), the uint32 top, correction
bits that shift bits out (uint32 wrap), output scales that saturate at 32767 and that wrap TFLM's uint32 product
(a negative option), seeded channels; refusals."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostops import load_op
from signal_models import check, single_op_model
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
    return load_op("signal_filter_bank_log", Path(tmp_path_factory.mktemp("op_signal_filter_bank_log")))


def _model(n: int, bits: int, scale: int) -> bytes:
    opts = {"input_correction_bits": bits, "output_scale": scale}
    return single_op_model("SignalFilterBankLog", [T("x", (n,), "uint32")], [T("y", (n,), "int16")], opts)


EDGES = np.array(
    [0, 1, 2, 3, 2**32 - 1, *(v for k in range(2, 32) for v in ((1 << k) - 1, 1 << k, (1 << k) + 1))], np.uint64
).astype(np.uint32)


@needs_tflm
@pytest.mark.parametrize(
    "bits,scale", [(0, 1), (0, 64), (3, 64), (7, 1000), (0, 65535), (31, 64), (0, 2**31 - 1), (2, -5)]
)
def test_edges(kernel: tuple[Any, Any], bits: int, scale: int) -> None:
    check(kernel, _model(EDGES.size, bits, scale), EDGES, ["signal_filter_bank_log"])


@needs_tflm
@pytest.mark.parametrize("seed", range(3))
def test_seeded_channels(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([9, seed])
    n = int(rng.integers(1, 100))
    x = (rng.integers(0, 2**32, n, dtype=np.uint64) >> rng.integers(0, 32, n).astype(np.uint64)).astype(np.uint32)
    check(kernel, _model(n, int(rng.integers(0, 6)), int(rng.integers(1, 2000))), x, ["signal_filter_bank_log"])


def test_refusals() -> None:
    with pytest.raises(
        BadInput, match=r"CUSTOM:SignalFilterBankLog\): input_correction_bits 32: supported are 0\.\.31"
    ):
        lower_model(parse_tflite(_model(4, 32, 64)))
    bad = single_op_model("SignalFilterBankLog", [T("x", (4,), "uint32")], [T("y", (4,), "int16")], {"output_scale": 1})
    with pytest.raises(BadInput, match=r"custom option 'input_correction_bits' is None, expected an integer"):
        lower_model(parse_tflite(bad))
