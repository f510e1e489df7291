"""CUSTOM:SignalFilterBankSquareRoot: numpy golden and host C vs tflite-micro, byte for byte: 0..3, the 16-bit
shortcut's edge (2^32 - 1 and 2^32), perfect squares and their neighbours, the uint64 top, shifts from a constant
scale_bits and from the auto scale's arena tensor (the front-end chain, tests/ops/signal_models.py); refusals."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import build_library, load
from hostops import load_op
from signal_models import check, front_end_model, single_op_model
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
    return load_op("signal_filter_bank_square_root", Path(tmp_path_factory.mktemp("op_signal_filter_bank_square_root")))


def _model(n: int, bits: int) -> bytes:
    ins = [T("x", (n,), "uint64"), T("bits", (), "int32", data=np.array(bits, np.int32))]
    return single_op_model("SignalFilterBankSquareRoot", ins, [T("y", (n,), "uint32")], {})


SQUARES = [v * v + d for v in (1, 2, 255, 256, 65535, 65536, 2**31, 2**32 - 1) for d in (-1, 0, 1)]
EDGES = np.array([0, 1, 2, 3, 2**32 - 1, 2**32, 2**64 - 1, 2**63, *SQUARES], np.uint64)


@needs_tflm
@pytest.mark.parametrize("bits", [0, 1, 7, 15, 31])
def test_edges(kernel: tuple[Any, Any], bits: int) -> None:
    check(kernel, _model(EDGES.size, bits), EDGES, ["signal_filter_bank_square_root"])


@needs_tflm
@pytest.mark.parametrize("seed", range(3))
def test_seeded_channels(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([10, seed])
    n = int(rng.integers(1, 80))
    x = rng.integers(0, 2**63, n, dtype=np.uint64) >> rng.integers(0, 63, n).astype(np.uint64)
    check(kernel, _model(n, int(rng.integers(0, 16))), x, ["signal_filter_bank_square_root"])


@needs_tflm
def test_scale_bits_from_the_auto_scale(tmp_path: Path) -> None:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc)")
    lib = load(build_library(tmp_path / "libcosim_nn.so"))
    model = front_end_model(np.random.default_rng(11), upto="square_root")
    kinds = ["signal_window", "signal_fft_auto_scale_bits", "signal_fft_auto_scale", "signal_energy",
             "signal_filter_bank", "signal_filter_bank_square_root"]  # fmt: skip
    for seed, level in enumerate((32767, 3000, 40, 0)):  # loud to silent: auto scale bits 0 .. 15 and 0
        x = np.random.default_rng(seed).integers(-level, level + 1, (1, 64)).astype(np.int16)
        check(lib, model, x, kinds)


def test_refusals() -> None:
    with pytest.raises(BadInput, match=r"CUSTOM:SignalFilterBankSquareRoot\): scale_bits 32: supported are 0\.\.31"):
        lower_model(parse_tflite(_model(4, 32)))
    bad = single_op_model("SignalFilterBankSquareRoot", [T("x", (4,), "uint64"), T("b", (1,), "int32")],
                          [T("y", (4,), "uint32")], {})  # fmt: skip
    with pytest.raises(BadInput, match=r"scale_bits .*: expected a scalar int32"):
        lower_model(parse_tflite(bad))
