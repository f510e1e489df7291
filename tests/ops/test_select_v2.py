"""SELECT_V2 (bool condition from a comparison inside the model, int8 values): the lowered graph's numpy reference
and the host-built C kernels vs tflite-micro, byte for byte: the condition, x and y each broadcast (up to 4-D, all
three at once), x or y a constant in flash, equal shapes of any rank (TFLM's element-wise path), one-element
operands of mixed ranks; and the refusals (quantizations that differ, a constant condition, 5-D broadcasting)."""

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
from tinyml_cosim.nn.ops import select_v2
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
QV = ([0.05], [-6])  # the values' quantization (x, y, output)


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load(build_library(Path(tmp_path_factory.mktemp("nn_select")) / "libcosim_nn.so"))


def select_model(
    cond: tuple[int, ...], x: tuple[int, ...], y: tuple[int, ...], x_const: Any = None, y_const: Any = None
) -> bytes:
    """cond = GREATER(c, threshold) over a model input c; SELECT_V2(cond, x, y), x and y model inputs or constants."""
    out = tuple(int(d) for d in np.broadcast_shapes(cond, x, y))
    t = [
        T("c", cond, "int8", [0.1], [0]),
        T("threshold", cond, "int8", [0.1], [0], data=np.zeros(cond, np.int8)),  # element-wise, any rank
        T("cond", cond, "bool"),
        T("x", x, "int8", *QV, data=x_const),
        T("y", y, "int8", *QV, data=y_const),
        T("out", out, "int8", *QV),
    ]
    ops = [Op("GREATER", [0, 1], [2]), Op("SELECT_V2", [2, 3, 4], [5])]
    inputs = [0] + [i for i, v in ((3, x_const), (4, y_const)) if v is None]
    return build_model(t, ops, inputs, [5])


def _check(kernels: tuple[Any, Any], model: bytes, seed: int) -> np.ndarray:
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == ["greater", "select_v2"]
    rng = np.random.default_rng([91, seed])
    xs = [rng.integers(-128, 128, graph.tensors[t].shape).astype(np.int8) for t in graph.inputs]
    want = run_tflm(model, xs)[0]
    np.testing.assert_array_equal(run_graph(graph, xs).reshape(want.shape), want, err_msg="numpy")
    np.testing.assert_array_equal(run_graph_c(*kernels, graph, xs).reshape(want.shape), want, err_msg="C kernels")
    return want


SHAPES = [  # condition, x, y
    ((1, 4, 5, 6), (1, 4, 5, 6), (1, 4, 5, 6)),
    ((1, 4, 1, 6), (1, 1, 5, 6), (6,)),  # all three broadcast
    ((4, 5, 1), (2, 1, 1, 1), (1, 5, 3)),
    ((3,), (2, 3), (2, 1)),
    ((2, 3, 2, 2, 3),) * 3,  # equal shapes: TFLM's element-wise path, rank 5
    ((1,), (1, 1), ()),  # one element each, mixed ranks: element-wise too
]


@needs_tflm
@pytest.mark.parametrize("shapes", SHAPES, ids=[str(i) for i in range(len(SHAPES))])
def test_select_v2_broadcasting(kernels: tuple[Any, Any], shapes: Any) -> None:
    for seed in range(2):
        _check(kernels, select_model(*shapes), seed)


@needs_tflm
def test_select_v2_constant_values(kernels: tuple[Any, Any]) -> None:
    rng = np.random.default_rng(92)
    ones = rng.integers(-128, 128, (1, 1, 6)).astype(np.int8)
    want = _check(kernels, select_model((2, 3, 6), (1, 1, 6), (2, 3, 6), x_const=ones), 0)
    assert np.isin(want, ones).mean() > 0.2  # x was picked somewhere
    fill = np.full((1,), -128, np.int8)
    want = _check(kernels, select_model((2, 3, 6), (2, 3, 6), (1,), y_const=fill), 1)
    assert (want == -128).any()


def test_select_v2_refusals(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="rank 5: this compiler's SELECT_V2 kernel broadcasts up to 4-D"):
        select_v2.prepare(((2, 1, 1, 1, 1), (1, 1, 1, 1, 3), (1,), (2, 1, 1, 1, 3)))
    with pytest.raises(BadInput, match="do not broadcast"):
        select_v2.prepare(((3,), (4,), (1,), (4,)))
    with pytest.raises(BadInput, match="is not the broadcast"):
        select_v2.prepare(((3,), (1, 3), (1,), (2, 3)))
    t = [
        T("c", (4,), "bool", data=np.ones(4, np.bool_)),
        T("x", (4,), "int8", *QV),
        T("y", (4,), "int8", [0.1], [-6]),
        T("out", (4,), "int8", *QV),
    ]
    cases = [
        ([*t[:2], T("y", (4,), "int8", *QV), t[3]], "condition tensor 0 'c' (bool[4]) is a constant"),
        ([T("c", (4,), "bool"), *t[1:]], "quantizations (scale, zero point) differ"),
    ]
    for tensors, fragment in cases:
        path = tmp_path / "bad.tflite"
        inputs = [i for i, x in enumerate(tensors[:3]) if x.data is None]
        path.write_bytes(build_model(tensors, [Op("SELECT_V2", [0, 1, 2], [3])], inputs, [3]))
        with pytest.raises(BadInput) as err:
            lower_model(parse_tflite(path.read_bytes(), path))
        msg = str(err.value)
        assert msg.startswith(f"{path}: operator 0 (SELECT_V2)") and fragment in msg, msg
