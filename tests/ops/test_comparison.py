"""EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL (int8 in, bool out): each feeds a SELECT_V2 inside
the model (bool tensors stay inside: 1 where true, 0 where false, as int8), through the lowered graph's numpy
reference and the host-built C kernels vs tflite-micro, byte for byte: every pair of bytes under equal scales, scales
whose rescaling rounds distinct values together (ties, tiny scales, scales just under 1), broadcasting up to 4-D,
a constant operand, a 5-D element-wise comparison; and the refusals (a scale of 1 or more aborts TFLM)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tflite_ops_writer  # noqa: F401  (registers the comparisons' and SELECT_V2's options writers)
from hostbuild import build_library, load, run_graph_c
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.ops import comparison
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
NAMES = list(comparison.COMPARE)
Q = tuple[float, int]


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load(build_library(Path(tmp_path_factory.mktemp("nn_cmp")) / "libcosim_nn.so"))


def compare_model(name: str, shapes: tuple[tuple[int, ...], ...], quant: tuple[Q, Q], const_b: Any = None) -> bytes:
    """a (op) b -> bool -> SELECT_V2(cond, 1, 0): the comparison's truth as int8. b is a model input, or const_b."""
    (sa, za), (sb, zb) = quant
    out = tuple(int(d) for d in np.broadcast_shapes(shapes[0], shapes[1]))
    t = [
        T("a", shapes[0], "int8", [sa], [za]),
        T("b", shapes[1], "int8", [sb], [zb], data=const_b),
        T("cond", out, "bool"),
        T("one", out, "int8", [1.0], [0], data=np.ones(out, np.int8)),  # the shape of cond: element-wise, any rank
        T("zero", out, "int8", [1.0], [0], data=np.zeros(out, np.int8)),
        T("y", out, "int8", [1.0], [0]),
    ]
    ops = [Op(name, [0, 1], [2]), Op("SELECT_V2", [2, 3, 4], [5])]
    return build_model(t, ops, [0] if const_b is not None else [0, 1], [5])


def _check(kernels: tuple[Any, Any], model: bytes, xs: list[np.ndarray]) -> np.ndarray:
    want = run_tflm(model, xs)[0]
    graph = lower_model(parse_tflite(model))
    np.testing.assert_array_equal(run_graph(graph, xs).reshape(want.shape), want, err_msg="numpy")
    np.testing.assert_array_equal(run_graph_c(*kernels, graph, xs).reshape(want.shape), want, err_msg="C kernels")
    return want


def _all_pairs() -> list[np.ndarray]:
    a, b = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij")
    return [a.astype(np.int8).reshape(1, 256, 256), b.astype(np.int8).reshape(1, 256, 256)]


QUANTS: list[tuple[Q, Q]] = [
    ((0.05, 3), (0.05, 3)),  # one quantization: the integer comparison itself
    ((0.1, 0), (0.05, 0)),  # b's values land on a's and between them: the rounding decides equality
    ((0.02, -128), (0.07, 100)),  # a zero point at a rail
    ((0.999, 5), (0.5, -7)),  # a scale just under 1
    ((1e-6, 0), (3e-6, 10)),  # tiny scales: the rescaled values collapse (most pairs compare equal)
]


@needs_tflm
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("quant", QUANTS, ids=[str(i) for i in range(len(QUANTS))])
def test_comparison_every_byte_pair(kernels: tuple[Any, Any], name: str, quant: tuple[Q, Q]) -> None:
    xs = _all_pairs()
    want = _check(kernels, compare_model(name, ((1, 256, 256), (1, 256, 256)), quant), xs)
    assert 0 < want.sum() < want.size or quant[0][0] < 1e-5  # both outcomes occur (tiny scales: all equal)


@needs_tflm
@pytest.mark.parametrize("name", NAMES)
def test_comparison_broadcast_and_constant(kernels: tuple[Any, Any], name: str) -> None:
    rng = np.random.default_rng([81, NAMES.index(name)])
    quant = ((0.04, -3), (0.04, -3))
    for sa, sb in [((2, 3, 4, 5), (1, 3, 1, 5)), ((4, 1), (1, 3, 1, 6)), ((2, 1, 3), (4, 1))]:
        a, b = (rng.integers(-128, 128, s).astype(np.int8) for s in (sa, sb))
        b.reshape(-1)[:: max(1, b.size // 3)] = a.reshape(-1)[0]  # some equal values
        _check(kernels, compare_model(name, (sa, sb), quant), [a, b])
    c = rng.integers(-128, 128, (6,)).astype(np.int8)
    x = rng.integers(-128, 128, (1, 3, 4, 6)).astype(np.int8)
    _check(kernels, compare_model(name, ((1, 3, 4, 6), (6,)), ((0.05, 1), (0.03, -4)), const_b=c), [x])


@needs_tflm
def test_comparison_five_d_element_wise(kernels: tuple[Any, Any]) -> None:
    """Equal shapes take TFLM's element-wise path, whatever the rank: flattened here."""
    rng = np.random.default_rng(82)
    a, b = (rng.integers(-128, 128, (2, 2, 3, 2, 3)).astype(np.int8) for _ in range(2))
    _check(kernels, compare_model("LESS", (a.shape, b.shape), ((0.05, 0), (0.06, 2))), [a, b])


def test_comparison_refusals() -> None:
    s = ((4,), (4,), (4,))
    with pytest.raises(BadInput, match=r"LESS: input 1 scale 1: TFLM's int8 LESS needs it in \(0, 1\)"):
        comparison.prepare("LESS", s, ((1.0, 0), (0.5, 0)))
    with pytest.raises(BadInput, match=r"EQUAL: input 2 scale 2\.5"):
        comparison.prepare("EQUAL", s, ((0.5, 0), (2.5, 0)))
    with pytest.raises(BadInput, match="GREATER: output rank 5"):
        comparison.prepare("GREATER", ((2, 1, 1, 1, 1), (1, 1, 1, 1, 3), (2, 1, 1, 1, 3)), ((0.5, 0), (0.5, 0)))
    with pytest.raises(BadInput, match="do not broadcast"):
        comparison.prepare("NOT_EQUAL", ((3,), (4,), (4,)), ((0.5, 0), (0.5, 0)))
    with pytest.raises(BadInput, match="output shape"):
        comparison.prepare("LESS_EQUAL", ((3,), (3,), (1, 3)), ((0.5, 0), (0.5, 0)))


def test_comparison_of_two_constants_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "two_constants.tflite"
    tensors = [
        T("a", (4,), "int8", [0.1], [0], data=np.ones(4, np.int8)),
        T("b", (4,), "int8", [0.1], [0], data=np.zeros(4, np.int8)),
        T("cond", (4,), "bool"),
        T("x", (4,), "int8", [0.1], [0]),
        T("y", (4,), "int8", [0.1], [0]),
    ]
    path.write_bytes(build_model(tensors, [Op("GREATER", [0, 1], [2]), Op("SELECT_V2", [2, 3, 3], [4])], [3], [4]))
    with pytest.raises(BadInput, match=r"operator 0 \(GREATER\): every input is a constant"):
        lower_model(parse_tflite(path.read_bytes(), path))
