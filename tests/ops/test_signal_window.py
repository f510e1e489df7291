"""CUSTOM:SignalWindow: numpy golden and host C vs tflite-micro, byte for byte: every shift TFLM can take (0..31:
products saturating at both int16 rails, negative products shifted arithmetically), windows repeated over several
frames, seeded random windows; refusals of what TFLM would read out of bounds or shift undefinedly."""

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
    return load_op("signal_window", Path(tmp_path_factory.mktemp("op_signal_window")))


def _model(frames: int, weights: np.ndarray, shift: int) -> bytes:
    n = weights.size
    ins = [T("x", (frames, n), "int16"), T("w", (n,), "int16", data=weights)]
    return single_op_model("SignalWindow", ins, [T("y", (frames, n), "int16")], {"shift": shift})


@needs_tflm
@pytest.mark.parametrize("shift", [0, 1, 7, 12, 15, 16, 30, 31])
def test_every_shift_with_rails(kernel: tuple[Any, Any], shift: int) -> None:
    rng = np.random.default_rng([5, shift])
    w = rng.integers(-32768, 32768, 64).astype(np.int16)
    w[:4] = [-32768, 32767, 1, -1]
    x = rng.integers(-32768, 32768, (3, 64)).astype(np.int16)
    x[0, :4] = [-32768, -32768, -32768, 32767]  # (-2^15)^2 = 2^30, the largest product
    check(kernel, _model(3, w, shift), x, ["signal_window"])


@needs_tflm
@pytest.mark.parametrize("seed", range(4))
def test_seeded_windows(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([6, seed])
    n, frames = int(rng.integers(1, 200)), int(rng.integers(1, 4))
    w = rng.integers(0, 32768, n).astype(np.int16)  # a window's usual range: 0..1 in Q15
    x = rng.integers(-32768, 32768, (frames, n)).astype(np.int16)
    check(kernel, _model(frames, w, int(rng.integers(0, 16))), x, ["signal_window"])


def test_refusals() -> None:
    w = np.ones(8, np.int16)
    with pytest.raises(BadInput, match=r"operator 0 \(CUSTOM:SignalWindow\): shift 32: supported are 0\.\.31"):
        lower_model(parse_tflite(_model(1, w, 32)))
    bad = single_op_model(
        "SignalWindow", [T("x", (1, 12), "int16"), T("w", (8,), "int16", data=w)], [T("y", (1, 12), "int16")],
        {"shift": 1},
    )  # fmt: skip
    with pytest.raises(BadInput, match=r"expected the input a whole number of windows"):
        lower_model(parse_tflite(bad))
    no_options = single_op_model("SignalWindow", [T("x", (1, 8), "int16"), T("w", (8,), "int16", data=w)],
                                 [T("y", (1, 8), "int16")])  # fmt: skip
    with pytest.raises(BadInput, match=r"no custom options: expected a flexbuffers map with shift"):
        lower_model(parse_tflite(no_options))
