"""CUSTOM:SignalFilterBankSpectralSubtraction: numpy golden and host C vs tflite-micro, byte for byte, on both outputs
and over invocations in a row (the noise estimate is state: one TFLM interpreter, the numpy state and the C state
tensor carried from input to input): micro_speech's coefficients with and without clamping, loud then silent inputs
(the estimate above the signal: capped, kept when clamping), smoothing_bits that wrap the scaled signal, wrapping
uint64 sums, channels at 0 and at the uint32 top; the estimate planned as a state tensor; refusals."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import run_graph_c
from hostops import load_op
from signal_models import SPECTRAL_SUBTRACTION
from tflite_custom_writer import custom_model
from tflite_writer import Op, T

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm_sequence, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph_outputs
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
MICRO_SPEECH = SPECTRAL_SUBTRACTION


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    name = "signal_filter_bank_spectral_subtraction"
    return load_op(name, Path(tmp_path_factory.mktemp(f"op_{name}")))


def _model(n: int, opts: dict[str, Any], noise_first: bool = False, noise_shape: tuple[int, ...] = ()) -> bytes:
    tensors = [T("x", (n,), "uint32"), T("y", (n,), "uint32"), T("noise", noise_shape or (n,), "uint32")]
    op = Op("CUSTOM:SignalFilterBankSpectralSubtraction", [0], [1, 2])
    return custom_model(tensors, [op], [0], [2, 1] if noise_first else [1, 2], {0: opts})


def _in_a_row(kernel: tuple[Any, Any], opts: dict[str, Any], xs: list[np.ndarray]) -> list[np.ndarray]:
    """Both outputs of every invocation equal TFLM's in numpy and in C (the C run sees the model's first output:
    both orders are run); returns TFLM's noise estimates."""
    n = xs[0].size
    noise: list[np.ndarray] = []
    for noise_first in (False, True):
        model = _model(n, dict(opts, num_channels=n), noise_first)
        want = run_tflm_sequence(model, xs)
        graph = lower_model(parse_tflite(model))
        assert [layer.kind for layer in graph.layers] == ["signal_spectral_subtraction"]
        state: dict[int, np.ndarray] = {}
        c_state: dict[int, np.ndarray] = {}
        for k, (x, w) in enumerate(zip(xs, want, strict=True)):
            for got, ref in zip(run_graph_outputs(graph, x, state=state), w, strict=True):
                np.testing.assert_array_equal(got.reshape(ref.shape), ref, err_msg=f"numpy, invocation {k}")
            c = run_graph_c(*kernel, graph, x, state=c_state)
            np.testing.assert_array_equal(c.reshape(w[0].shape), w[0], err_msg=f"C, invocation {k}")
            noise.append(w[0 if noise_first else 1])
    return noise[: len(xs)]


def _channels(rng: np.random.Generator, n: int, top_bits: int = 32) -> np.ndarray:
    raw = rng.integers(0, 2**top_bits, n, dtype=np.uint64) >> rng.integers(0, top_bits, n).astype(np.uint64)
    return raw.astype(np.uint32)


@needs_tflm
@pytest.mark.parametrize("clamping", [False, True])
def test_micro_speech_loud_then_silent(kernel: tuple[Any, Any], clamping: bool) -> None:
    rng = np.random.default_rng([20, clamping])
    loud = [_channels(rng, 40, 22) for _ in range(3)]
    xs = [*loud, np.zeros(40, np.uint32), loud[0] >> np.uint32(6)]  # the estimate overshoots a silent frame
    noise = _in_a_row(kernel, dict(MICRO_SPEECH, clamping=clamping), xs)
    assert noise[2].any() and bool((noise[3] == 0).all()) == clamping  # clamped to the silent frame's 0


@needs_tflm
@pytest.mark.parametrize(
    "change",
    [
        {"smoothing_bits": 31, "spectral_subtraction_bits": 0},  # the scaled signal wraps in uint32
        {"smoothing": 2**31 - 1, "one_minus_smoothing": 2**31 - 1, "spectral_subtraction_bits": 63},
        {"smoothing": -1, "alternate_smoothing": -5, "min_signal_remaining": -1, "spectral_subtraction_bits": 40},
        {"smoothing_bits": 0, "spectral_subtraction_bits": 0, "clamping": True},
    ],
)
def test_wrapping_options(kernel: tuple[Any, Any], change: dict[str, Any]) -> None:
    rng = np.random.default_rng(21)
    xs = [_channels(rng, 17) for _ in range(3)]
    xs[0][:3] = [0, 2**32 - 1, 1]
    _in_a_row(kernel, dict(MICRO_SPEECH, **change), xs)


def test_the_estimate_is_a_state_tensor() -> None:
    graph = lower_model(parse_tflite(_model(40, MICRO_SPEECH)))
    (layer,) = graph.layers
    noise = graph.tensors[layer.args[1]]
    assert noise.variable and noise.dtype == "uint32" and noise.shape == (40,)


def test_refusals() -> None:
    cases = [
        (_model(8, dict(MICRO_SPEECH, num_channels=8, smoothing_bits=32)), r"\): smoothing_bits 32: supported are 0"),
        (_model(8, dict(MICRO_SPEECH, num_channels=8, spectral_subtraction_bits=64)), r"spectral_subtraction_bits 64"),
        (_model(8, MICRO_SPEECH), r"expected uint32 \[num_channels\] = \[40\] each"),
        (_model(8, dict(MICRO_SPEECH, num_channels=8), noise_shape=(9,)), r"\[8\] / \[8\] / \[9\] \(uint32\)"),
    ]
    for model, match in cases:
        with pytest.raises(BadInput, match=match):
            lower_model(parse_tflite(model))
    missing = {k: v for k, v in MICRO_SPEECH.items() if k != "clamping"}
    with pytest.raises(BadInput, match=r"custom option 'clamping' is None, expected an integer"):
        lower_model(parse_tflite(_model(40, missing)))
