"""The CMSIS-NN adapters (firmware/nn/cmsis) against TFLM: needs CMSIS_NN_DIR pointing at a CMSIS-NN checkout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cases import GENERATORS, make_case

from sim.models.golden import run_tflm, tflm_available
from sim.models.graph import load_graph, lower_model
from sim.models.hostbuild import build_library, cmsis_nn_dir, load, run_graph_c
from sim.models.tflite_reader import parse_tflite

MLPERF = Path(__file__).resolve().parents[3] / "shared" / "models" / "mlperf-tiny"

pytestmark = [
    pytest.mark.skipif(cmsis_nn_dir() is None, reason="CMSIS_NN_DIR is not set to a CMSIS-NN checkout"),
    pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed"),
]


@pytest.fixture(scope="module")
def cmsis(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    return load(build_library(Path(tmp_path_factory.mktemp("cmsis")) / "libcosim_cmsis.so", kernels="cmsis"))


@pytest.mark.parametrize("seed", range(GENERATORS["fc"][0]))
def test_fc_cases(cmsis: tuple[Any, Any], seed: int) -> None:
    ffi, lib = cmsis
    case = make_case("fc", seed)
    graph = lower_model(parse_tflite(case.model))
    want = run_tflm(case.model, case.inputs)[0]
    np.testing.assert_array_equal(run_graph_c(ffi, lib, graph, case.inputs).reshape(want.shape), want)


@pytest.mark.parametrize("name", ["kws_ref_model", "ad01_int8", "pretrainedResnet_quant"])
def test_mlperf_models(cmsis: tuple[Any, Any], name: str) -> None:
    path = MLPERF / f"{name}.tflite"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    ffi, lib = cmsis
    graph = load_graph(path)
    rng = np.random.default_rng(11)
    for _ in range(20):
        x = rng.integers(-128, 128, size=graph.input_tensor.shape).astype(np.int8)
        want = run_tflm(path, x)[0]
        np.testing.assert_array_equal(run_graph_c(ffi, lib, graph, x).reshape(want.shape), want)
