"""CUSTOM:SignalFftAutoScale: numpy golden and host C vs tflite-micro, byte for byte, on both outputs (the scaled
frame and the scale bits): loud to silent frames (every scale from 0 to 14, and 0 for an all-zero frame), the
running int16 maximum's wrap at -32768 (the bits depend on where it stands), products truncated to int16; refusals
of shapes TFLM's kernel does not take."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostops import load_op
from signal_models import check
from tflite_custom_writer import custom_model
from tflite_writer import Op, T

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.ops.signal_fft_auto_scale import scale_bits
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
KINDS = ["signal_fft_auto_scale_bits", "signal_fft_auto_scale"]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("signal_fft_auto_scale", Path(tmp_path_factory.mktemp("op_signal_fft_auto_scale")))


def _model(n: int, bits_first: bool, shape: tuple[int, ...] | None = None, bits_shape: tuple[int, ...] = ()) -> bytes:
    """One SignalFftAutoScale over int16 [n]; the model's first output is the scale bits when `bits_first`."""
    shape = shape or (n,)
    tensors = [T("x", shape, "int16"), T("y", shape, "int16"), T("bits", bits_shape, "int32")]
    outputs = [2, 1] if bits_first else [1, 2]
    return custom_model(tensors, [Op("CUSTOM:SignalFftAutoScale", [0], [1, 2])], [0], outputs, {0: {}})


def _both(kernel: tuple[Any, Any], x: np.ndarray) -> int:
    """Both outputs checked (each model's first output is what the checks compare); returns the scale bits."""
    _, bits = check(kernel, _model(x.size, True), x, KINDS)
    check(kernel, _model(x.size, False), x, KINDS)
    assert int(bits) == scale_bits(x)
    return int(bits)


@needs_tflm
def test_loud_to_silent_every_scale(kernel: tuple[Any, Any]) -> None:
    rng = np.random.default_rng(12)
    seen = set()
    for top in (32767, 16384, 16383, *(1 << k for k in range(14, -1, -1)), 0):
        x = rng.integers(-top, top + 1, 48).astype(np.int16)
        x[int(rng.integers(0, 48))] = top if rng.integers(0, 2) else -top  # the maximum magnitude is present
        seen.add(_both(kernel, x))
    assert seen == set(range(15))  # 1 has bit length 1: 14 is the largest scale


@needs_tflm
@pytest.mark.parametrize(
    "values,bits",
    [([-32768, 5], 12), ([5, -32768], 0), ([-32768], 0), ([-32768, -32768, 3], 13), ([1, -1, 0], 14)],
)
def test_the_running_maximum_wraps_at_minus_32768(kernel: tuple[Any, Any], values: list[int], bits: int) -> None:
    # |-32768| is -32768 in TFLM's int16 maximum: any later positive magnitude replaces it
    assert _both(kernel, np.array(values, np.int16)) == bits


@needs_tflm
def test_products_truncate_to_int16(kernel: tuple[Any, Any]) -> None:
    # -32768 first, 3 later: the bits are 13 and -32768 * 2^13 keeps its low 16 bits (0)
    x = np.array([-32768, 1, -1, 3, -3, 2, -2, 0], np.int16)
    y = run_tflm(_model(x.size, False), x)[0]
    np.testing.assert_array_equal(y, (x.astype(np.int64) << 13).astype(np.int16))
    _both(kernel, x)


@needs_tflm
@pytest.mark.parametrize("seed", range(3))
def test_seeded_frames(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([13, seed])
    n = int(rng.integers(1, 600))
    top = int(rng.integers(0, 32768))
    _both(kernel, rng.integers(-top, top + 1, n).astype(np.int16))


def test_refusals() -> None:
    with pytest.raises(BadInput, match=r"CUSTOM:SignalFftAutoScale\): input \[2, 4\].*expected int16 \[N\]"):
        lower_model(parse_tflite(_model(8, False, shape=(2, 4))))
    with pytest.raises(BadInput, match=r"outputs \[8\] / \[1\]: expected int16 \[N\], int16 \[N\] and a scalar"):
        lower_model(parse_tflite(_model(8, False, bits_shape=(1,))))
