"""firmware/nn (built for the host) against TFLM's reference kernels and the numpy golden, on one-operator models.

Each case is bit-exact or it fails. With tflite-micro missing, the committed golden vectors (models/golden/) still
check the C kernels and the numpy golden.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cases import all_case_ids, corner_cases, make_case
from hostbuild import run_graph_c

from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "src" / "tinyml_cosim" / "golden" / "kernel_cases.npz"
needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")


def _check(
    kernels: tuple[Any, Any], name: str, model: bytes, inputs: list[np.ndarray], want: np.ndarray | None
) -> None:
    ffi, lib = kernels
    graph = lower_model(parse_tflite(model, Path(name)))
    if want is None:
        want = run_tflm(model, inputs)[0]
    got_c = run_graph_c(ffi, lib, graph, inputs).reshape(want.shape)
    got_np = run_graph(graph, inputs).reshape(want.shape)
    if want.dtype == np.float32:
        np.testing.assert_array_equal(got_c.view(np.uint32), want.view(np.uint32), err_msg=f"C kernels: {name}")
        np.testing.assert_array_equal(got_np.view(np.uint32), want.view(np.uint32), err_msg=f"numpy: {name}")
        return
    for who, got in (("C kernels", got_c), ("numpy golden", got_np)):
        if not np.array_equal(got, want):
            bad = np.flatnonzero(got.reshape(-1) != want.reshape(-1))
            raise AssertionError(
                f"{who} differ from TFLM on {name}: {bad.size} of {want.size} values, first at {bad[0]}: "
                f"got {got.reshape(-1)[bad[0]]}, want {want.reshape(-1)[bad[0]]}"
            )


@needs_tflm
@pytest.mark.parametrize(("kind", "seed"), all_case_ids(), ids=[f"{k}-{s}" for k, s in all_case_ids()])
def test_random_case(kernels: tuple[Any, Any], kind: str, seed: int) -> None:
    case = make_case(kind, seed)
    _check(kernels, case.name, case.model, case.inputs, None)


CORNERS = corner_cases()


@needs_tflm
@pytest.mark.parametrize("index", range(len(CORNERS)), ids=[c[0].replace(" ", "_") for c in CORNERS])
def test_corner_case(kernels: tuple[Any, Any], index: int) -> None:
    name, model, rows = CORNERS[index]
    for row in rows:
        _check(kernels, name, model, [row], None)


def _golden_cases() -> list[str]:
    if not GOLDEN.exists():
        return []
    with np.load(GOLDEN) as z:
        return sorted({k.split("/")[0] for k in z.files})


@pytest.mark.skipif(not GOLDEN.exists(), reason=f"{GOLDEN} is missing")
@pytest.mark.parametrize("key", _golden_cases())
def test_committed_golden_case(kernels: tuple[Any, Any], key: str) -> None:
    """Runs without tflite-micro: TFLM's outputs were recorded when the vectors were made (regen_golden.py)."""
    with np.load(GOLDEN) as z:
        model = z[f"{key}/model"].tobytes()
        n = int(z[f"{key}/n_inputs"])
        inputs = [z[f"{key}/input{i}"] for i in range(n)]
        want = z[f"{key}/output"]
    _check(kernels, key, model, inputs, want)
