"""FULLY_CONNECTED over more than one row: a Keras Dense applied at every position of a feature map (batch 1, the
leading dimensions folded into rows), with keep_num_dims either way, byte for byte with tflite-micro."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import build_library, load, run_graph_c
from tflite_writer import Op, T, build_model

from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load(build_library(Path(tmp_path_factory.mktemp("nn_fc_rows")) / "libcosim_nn.so"))


def _model(in_shape: tuple[int, ...], out_shape: tuple[int, ...], units: int, keep: bool, per_channel: bool) -> bytes:
    rng = np.random.default_rng(units)
    depth = in_shape[-1]
    scales = [0.01 + 0.002 * i for i in range(units)] if per_channel else [0.015]
    tensors = [
        T("x", in_shape, "int8", [0.05], [-9]),
        T(
            "w",
            (units, depth),
            "int8",
            scales,
            [0] * len(scales),
            data=rng.integers(-127, 128, (units, depth)).astype(np.int8),
        ),
        T("b", (units,), "int32", data=rng.integers(-3000, 3000, units).astype(np.int32)),
        T("y", out_shape, "int8", [0.09], [3]),
    ]
    return build_model(tensors, [Op("FULLY_CONNECTED", [0, 1, 2], [3], {"keep_num_dims": keep})], [0], [3])


CASES = [
    ((1, 5, 7, 12), (1, 5, 7, 4), 4, True, False),
    ((1, 6, 10), (6, 3), 3, False, True),
    ((3, 8), (3, 5), 5, False, False),
]


@needs_tflm
@pytest.mark.parametrize(("in_shape", "out_shape", "units", "keep", "per_channel"), CASES)
def test_fc_over_rows_is_bit_exact(
    kernels: tuple[Any, Any],
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    units: int,
    keep: bool,
    per_channel: bool,
) -> None:
    model = _model(in_shape, out_shape, units, keep, per_channel)
    graph = lower_model(parse_tflite(model))
    assert graph.layers[0].p["batches"] == int(np.prod(in_shape[:-1]))
    ffi, lib = kernels
    for seed in range(4):
        x = np.random.default_rng(seed).integers(-128, 128, in_shape).astype(np.int8)
        want = run_tflm(model, x)[0]
        np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want)
        np.testing.assert_array_equal(run_graph_c(ffi, lib, graph, x).reshape(want.shape), want)
