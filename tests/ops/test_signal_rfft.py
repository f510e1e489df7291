"""CUSTOM:SignalRfft int16: numpy golden and host C vs tflite-micro, byte for byte: micro_speech's 480 samples in a
512-point transform, every radix kissfft takes (lengths whose half is a power of 4, of 2, and has factors 3 and 5),
several frames, full-scale inputs (the int16 wraps of the butterflies' sums: -32768 everywhere, alternating rails,
a full-scale DC), an impulse and silence; refusals of what TFLM cannot run."""

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
from tinyml_cosim.nn.ops.signal_rfft import factorize
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("signal_rfft", Path(tmp_path_factory.mktemp("op_signal_rfft")))


def _model(frames: int, samples: int, length: int, t: int = 7, out: int | None = None) -> bytes:
    ins = [T("x", (frames, samples), "int16")]
    outs = [T("y", (frames, length + 2 if out is None else out), "int16")]
    return single_op_model("SignalRfft", ins, outs, {"T": t, "fft_length": length})


def test_factorization_is_kissfft_s() -> None:
    assert factorize(256) == [(4, 64), (4, 16), (4, 4), (4, 1)]
    assert factorize(128) == [(4, 32), (4, 8), (4, 2), (2, 1)]
    assert factorize(60) == [(4, 15), (3, 5), (5, 1)]
    assert factorize(2) == [(2, 1)]


@needs_tflm
@pytest.mark.parametrize("level", [32767, 2000, 7])
def test_micro_speech_frame(kernel: tuple[Any, Any], level: int) -> None:
    x = np.random.default_rng([18, level]).integers(-level, level + 1, (1, 480)).astype(np.int16)
    check(kernel, _model(1, 480, 512), x, ["signal_rfft"])


@needs_tflm
@pytest.mark.parametrize("length", [4, 8, 16, 32, 64, 6, 10, 12, 30, 50, 120, 90])
def test_every_radix(kernel: tuple[Any, Any], length: int) -> None:
    rng = np.random.default_rng([19, length])
    samples = int(rng.integers(1, length + 1))
    x = rng.integers(-32768, 32768, (2, samples)).astype(np.int16)
    check(kernel, _model(2, samples, length), x, ["signal_rfft"])


@needs_tflm
@pytest.mark.parametrize("pattern", ["min", "alternating", "dc", "impulse", "zero"])
def test_full_scale_and_edges(kernel: tuple[Any, Any], pattern: str) -> None:
    n = 64
    x = {
        "min": np.full(n, -32768),
        "alternating": np.tile([32767, -32768], n // 2),
        "dc": np.full(n, 32767),
        "impulse": np.eye(1, n, 5)[0] * -32768,
        "zero": np.zeros(n),
    }[pattern].astype(np.int16)
    for length in (64, 60):
        check(kernel, _model(1, length, length), x[:length].reshape(1, length), ["signal_rfft"])


def test_refusals() -> None:
    cases = [
        (_model(1, 8, 8, t=1), r"CUSTOM:SignalRfft\): option T 1: only the int16 form \(T = 7\) is supported"),
        (_model(1, 8, 14), r"fft_length 14: its half has a prime factor above 5"),
        (_model(1, 9, 9, out=11), r"fft_length 9: supported are even lengths of 4 or more"),
        (_model(1, 10, 8), r"input frames of 10 samples: expected 1\.\.fft_length \(8\)"),
        (_model(1, 8, 8, out=8), r"output frames of 8 values: expected fft_length \+ 2 = 10"),
    ]
    for model, match in cases:
        with pytest.raises(BadInput, match=match):
            lower_model(parse_tflite(model))
