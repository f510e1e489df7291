"""GATHER (int8 params, constant int32 indices): the lowered graph (numpy golden and the host-built C kernel) vs
tflite-micro, byte for byte, for every axis (negative ones too), batch_dims (TFLM runs them; negative too), scalar and
2-D indices, repeated indices, seeded random shapes; and the refusals (int64 or run-time indices, indices TFLM would
read outside the input for, axis and batch_dims out of range)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tflite_ops_writer  # noqa: F401  (registers the options writers)
from hostbuild import run_graph_c
from hostops import load_op
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.ops import gather
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
Q = (0.02, -40)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("gather", Path(tmp_path_factory.mktemp("op_gather")))


def _out(shape: tuple[int, ...], idx: np.ndarray, axis: int, bd: int) -> tuple[int, ...]:
    a = axis % len(shape)
    bd = bd % max(idx.ndim, 1) if bd < 0 else bd
    return (*shape[:a], *idx.shape[bd:], *shape[a + 1 :])


def _model(shape: tuple[int, ...], idx: np.ndarray, out: tuple[int, ...], axis: int, bd: int, **kw: Any) -> bytes:
    i = T("indices", idx.shape, str(idx.dtype), data=idx) if kw.get("const", True) else T("indices", idx.shape, "int32")
    tensors = [T("x", shape, "int8", [Q[0]], [Q[1]]), i, T("y", out, "int8", [kw.get("out_scale", Q[0])], [Q[1]])]
    return build_model(tensors, [Op("GATHER", [0, 1], [2], {"axis": axis, "batch_dims": bd})], [0], [2])


def _check(kernel: tuple[Any, Any], x: np.ndarray, idx: list[Any] | int, axis: int, bd: int = 0) -> None:
    ind = np.array(idx, np.int32)
    model = _model(x.shape, ind, _out(x.shape, ind, axis, bd), axis, bd)
    want = run_tflm(model, x)[0]
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == ["gather"]
    np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want)
    np.testing.assert_array_equal(run_graph_c(*kernel, graph, x).reshape(want.shape), want)
    if bd == 0:  # and an independent check of what TFLM computed
        np.testing.assert_array_equal(want, np.take(x, ind, axis=axis))


CASES = [
    ((1, 5, 6), [[5, 0], [2, 2]], -1, 0),  # last axis (negative), 2-D indices, a repeat
    ((1, 5, 6), 3, 1, 0),  # a scalar index drops the axis
    ((1, 5, 6), [4, 0, 4, 1], -2, 0),
    ((8,), [7, 0, 3], 0, 0),  # an embedding-like 1-D table
    ((3, 4), [[0, 2, 2], [1, 0, 1]], 0, 0),  # axis 0 with 2-D indices
    ((2, 5, 3), [[4, 0], [1, 1]], 1, 1),  # batch_dims 1: each batch its own indices
    ((2, 5, 3), [[2], [0]], -1, 1),
    ((2, 3, 4), [[[0, 3], [1, 1], [2, 0]], [[3, 3], [0, 1], [1, 2]]], 2, 2),  # batch_dims 2
    ((2, 5, 3), [[4, 0], [1, 1]], 1, -1),  # batch_dims -1 is 1 for 2-D indices
]


@needs_tflm
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-axis{c[2]}-bd{c[3]}" for c in CASES])
def test_corners(kernel: tuple[Any, Any], case: tuple[tuple[int, ...], Any, int, int]) -> None:
    shape, idx, axis, bd = case
    x = np.random.default_rng([51, len(shape)]).integers(-128, 128, shape, dtype=np.int8)
    _check(kernel, x, idx, axis, bd)


@needs_tflm
@pytest.mark.parametrize("seed", range(8))
def test_seeded(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([51, 100, seed])
    rank = int(rng.integers(1, 4))  # the output gains the indices' rank: keep it below the graph's 4-D batch rule
    shape = tuple(int(d) for d in rng.integers(1, 7, rank))
    axis = int(rng.integers(-rank, rank))
    idx = rng.integers(0, shape[axis], tuple(int(d) for d in rng.integers(1, 4, int(rng.integers(0, 2)))))
    _check(kernel, rng.integers(-128, 128, shape, dtype=np.int8), idx.tolist(), axis)


@pytest.mark.parametrize(
    ("shape", "idx", "axis", "bd", "msg"),
    [
        ((3, 4), [0, 4], 1, 0, r"an index lies outside \[0, 4\)"),
        ((3, 4), [-1], 1, 0, "an index lies outside"),
        ((3, 4), [0], 2, 0, r"axis 2: it must lie in \[-2, 2\)"),
        ((3, 4), [0], -3, 0, "axis -3"),
        ((3, 4), [[0]], 0, 1, "batch_dims 1: TFLM needs 0 <= it <= axis"),
        ((3, 4), [0], 1, 2, "batch_dims 2"),
        ((3, 4), [[0], [1]], 1, 1, "the first 1 dimensions of the input and of the indices must be equal"),
        ((3, 4), [0, 1], 1, 0, r"output shape \[3, 3\]: the input and indices make \[3, 2\]"),
    ],
)
def test_refusals(shape: tuple[int, ...], idx: Any, axis: int, bd: int, msg: str) -> None:
    out = (3, 3) if "output shape" in msg else (1,)
    with pytest.raises(BadInput, match=f"GATHER: .*{msg}"):
        gather.prepare(shape, np.array(idx, np.int64), out, axis, bd)


@pytest.mark.parametrize(
    ("dtype", "kw", "msg"),
    [
        ("int64", {}, "are int64: TFLM's GATHER takes int32 indices only"),
        ("int32", {"const": False}, "indices are not a constant tensor"),
        ("int32", {"out_scale": 0.5}, "quantization differ: TFLM's GATHER moves bytes"),
    ],
)
def test_operand_refusals_name_the_file(dtype: str, kw: dict[str, Any], msg: str, tmp_path: Path) -> None:
    path = tmp_path / "gather.tflite"
    path.write_bytes(_model((1, 6), np.array([1, 2], dtype), (1, 2), 1, 0, **kw))
    with pytest.raises(BadInput, match=rf"^{re.escape(str(path))}: operator .*{msg}"):
        lower_model(parse_tflite(path.read_bytes(), path))
