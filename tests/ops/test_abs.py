"""ABS (int8): the lowered graph (numpy golden and the host-built C kernel) vs tflite-micro, byte for byte, on every
int8 input for corner quantizations: equal scales (TFLM then adds the output zero point to |x - zp| without
requantizing, whatever the zero points), scales apart both ways, extreme ratios, zero points on the rails, ties of
the rounding; and seeded random quantizations. NEG is not compiled: the pinned TFLM runs it for float32 only."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tflite_ops_writer  # noqa: F401  (registers the options writers)
from hostbuild import run_graph_c
from hostops import load_op
from tflite_ops_writer import unary_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.ops import BY_BUILTIN
from tinyml_cosim.nn.ops import abs as abs_op
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
EVERY_INT8 = np.arange(-128, 128, dtype=np.int8).reshape(1, 16, 16)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("abs", Path(tmp_path_factory.mktemp("op_abs")))


def _check(kernel: tuple[Any, Any], q_in: tuple[float, int], q_out: tuple[float, int]) -> abs_op.AbsParams:
    model = unary_model("ABS", EVERY_INT8.shape, q_in, q_out)
    want = run_tflm(model, EVERY_INT8)[0]
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == ["abs"]
    np.testing.assert_array_equal(run_graph(graph, EVERY_INT8).reshape(want.shape), want)
    np.testing.assert_array_equal(run_graph_c(*kernel, graph, EVERY_INT8).reshape(want.shape), want)
    p: abs_op.AbsParams = graph.layers[0].prepared
    return p


QUANTS = [
    ((0.05, 3), (0.05, -7)),  # equal scales, different zero points: no requantization
    ((0.05, -128), (0.05, -128)),  # equal, both on the lower rail
    ((0.1, 127), (0.1, 127)),  # the upper rail: |x - 127| up to 255, clamped
    ((0.05, 3), (0.02, -128)),  # output finer: clamps at 127
    ((0.01, -128), (0.07, 10)),  # output coarser
    ((0.04, 0), (0.08, 0)),  # ratio 1/2: every odd magnitude a rounding tie
    ((0.03, 0), (0.01, -128)),  # ratio 3
    ((1e-4, 5), (1.0, -128)),  # a tiny ratio: everything rounds to the zero point
    ((10.0, -1), (1e-3, -128)),  # a huge ratio
]


@needs_tflm
@pytest.mark.parametrize("quant", QUANTS, ids=[f"{a}->{b}" for a, b in QUANTS])
def test_every_int8_input(kernel: tuple[Any, Any], quant: tuple[tuple[float, int], tuple[float, int]]) -> None:
    p = _check(kernel, *quant)
    assert p.rescale == (quant[0][0] != quant[1][0])


@needs_tflm
@pytest.mark.parametrize("seed", range(6))
def test_seeded_quantizations(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([71, seed])
    s_in = float(10 ** rng.uniform(-3, 0))
    s_out = s_in if seed == 0 else float(10 ** rng.uniform(-3, 0))
    _check(kernel, (s_in, int(rng.integers(-128, 128))), (s_out, int(rng.integers(-128, 128))))


def test_refusals() -> None:
    with pytest.raises(BadInput, match=r"ABS: scales 0\.0 / 0\.1: both must be positive"):
        abs_op.prepare(4, 0.0, 0, 0.1, 0)


def test_element_count_mismatch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "abs.tflite"
    path.write_bytes(unary_model("ABS", (1, 8), (0.1, 0), (0.1, 0), (1, 4)))
    with pytest.raises(BadInput, match=r"operator .*ABS.*input has 8 elements, output 4"):
        lower_model(parse_tflite(path.read_bytes(), path))


@needs_tflm
def test_neg_is_not_compiled_because_tflm_has_no_int8_kernel() -> None:
    assert "NEG" not in BY_BUILTIN
    with pytest.raises(RuntimeError):  # "Type INT8 (9) not supported."
        run_tflm(unary_model("NEG", (1, 4), (0.1, 0), (0.1, 0)), np.zeros((1, 4), np.int8))
