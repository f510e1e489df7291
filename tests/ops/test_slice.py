"""SLICE (int8): the lowered graph (numpy golden and the host-built C kernel) vs tflite-micro, byte for byte, with
int32 and int64 begin/size, size -1, every rank 1-D to 5-D, seeded random boxes; and the refusals of boxes TFLM
would read outside the input for, and of operands it cannot take."""

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
from tinyml_cosim.nn.ops import slice as slice_op
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
Q = (0.03, 17)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("slice", Path(tmp_path_factory.mktemp("op_slice")))


def _model(
    shape: tuple[int, ...], begin: list[int], size: list[int], out: tuple[int, ...], dtype: str = "int32", **kw: Any
) -> bytes:
    tensors = [
        T("x", shape, "int8", [Q[0]], [Q[1]]),
        T("begin", (len(begin),), dtype, data=np.array(begin, dtype)),
        T("size", (len(size),), kw.get("size_dtype", dtype), data=np.array(size, kw.get("size_dtype", dtype))),
        T("y", out, "int8", [kw.get("out_scale", Q[0])], [Q[1]]),
    ]
    return build_model(tensors, [Op("SLICE", [0, 1, 2], [3])], [0], [3])


def _check(kernel: tuple[Any, Any], x: np.ndarray, begin: list[int], size: list[int], dtype: str = "int32") -> None:
    out = tuple(d - b if s == -1 else s for d, b, s in zip(x.shape, begin, size, strict=True))
    model = _model(x.shape, begin, size, out, dtype)
    want = run_tflm(model, x)[0]
    np.testing.assert_array_equal(want, x[tuple(slice(b, b + s) for b, s in zip(begin, out, strict=True))])
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == ["slice"]
    np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want)
    np.testing.assert_array_equal(run_graph_c(*kernel, graph, x).reshape(want.shape), want)


CORNERS = [
    ((7,), [0], [-1]),  # 1-D, the whole of it
    ((7,), [6], [1]),  # the last element
    ((1, 9, 4), [0, 2, 1], [1, -1, 2]),  # size -1 in the middle
    ((1, 5, 6, 7), [0, 1, 2, 3], [1, 4, 3, 4]),  # a 4-D box ending on every edge
    ((1, 5, 6, 7), [0, 0, 0, 0], [-1, -1, -1, -1]),  # identity
    ((2, 3, 4, 5, 6), [1, 0, 2, 1, 3], [1, 3, 2, -1, 2]),  # 5-D
    ((1, 1, 1, 1, 9), [0, 0, 0, 0, 4], [1, 1, 1, 1, 1]),  # one element of a 5-D tensor
]


@needs_tflm
@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("case", CORNERS, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CORNERS])
def test_corners(kernel: tuple[Any, Any], case: tuple[tuple[int, ...], list[int], list[int]], dtype: str) -> None:
    shape, begin, size = case
    x = np.random.default_rng([41, len(shape)]).integers(-128, 128, shape, dtype=np.int8)
    _check(kernel, x, begin, size, dtype)


@needs_tflm
@pytest.mark.parametrize("seed", range(8))
def test_seeded_boxes(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([41, 100, seed])
    rank = int(rng.integers(1, 6))
    shape = tuple(int(d) for d in rng.integers(1, 7, rank))
    if rank == 4:
        shape = (1, *shape[1:])  # the graph takes batch 1 for 4-D tensors
    begin = [int(rng.integers(0, d)) for d in shape]
    size = [-1 if rng.random() < 0.25 else int(rng.integers(1, d - b + 1)) for d, b in zip(shape, begin, strict=True)]
    _check(kernel, rng.integers(-128, 128, shape, dtype=np.int8), begin, size, "int64" if seed % 2 else "int32")


@pytest.mark.parametrize(
    ("shape", "begin", "size", "out", "msg"),
    [
        ((4, 5), [0, 5], [1, 1], (1, 1), r"begin \[0, 5\]: entry 1 must lie in \[0, 5\)"),
        ((4, 5), [-1, 0], [1, 1], (1, 1), "entry 0 must lie in"),
        ((4, 5), [1, 2], [4, 1], (4, 1), r"entry 0 must be -1 or in \[1, 3\]"),
        ((4, 5), [1, 2], [1, 0], (1, 0), r"entry 1 must be -1 or in \[1, 3\]"),
        ((4, 5), [1, 2], [1, -2], (1, 0), "entry 1 must be -1"),
        ((4, 5), [1], [1], (1,), "each needs one entry per input dimension"),
        ((4, 5), None, [1, 1], (1, 1), "not a constant tensor"),
        ((4, 5), [1, 1], [2, 2], (2, 3), r"output shape \[2, 3\]: begin and size make \[2, 2\]"),
        ((1, 1, 1, 1, 1, 2), [0] * 6, [1] * 6, (1,) * 6, "input rank 6"),
    ],
)
def test_refusals(
    shape: tuple[int, ...], begin: list[int] | None, size: list[int], out: tuple[int, ...], msg: str
) -> None:
    with pytest.raises(BadInput, match=f"SLICE: .*{msg}"):
        slice_op.prepare(shape, begin, size, out)


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"size_dtype": "int64"}, "begin is int32 and size int64: TFLM reads both as begin's type"),
        ({"out_scale": 0.06}, "quantization differ: TFLM's SLICE moves bytes"),
        ({"dtype": "int16"}, "begin .* is int16: TFLM reads it as int32 or int64"),
    ],
)
def test_operand_refusals_name_the_file(kw: dict[str, Any], msg: str, tmp_path: Path) -> None:
    path = tmp_path / "slice.tflite"
    path.write_bytes(_model((1, 6), [0, 1], [1, 2], (1, 2), **kw))
    with pytest.raises(BadInput, match=rf"^{re.escape(str(path))}: operator .*{msg}"):
        lower_model(parse_tflite(path.read_bytes(), path))
