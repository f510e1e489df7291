"""STRIDED_SLICE of an int8 or int16 activation: the lowered graph (numpy golden and the host-built C kernel) vs
tflite-micro, byte for byte, for positive and negative strides, negative indices, out-of-range indices (clamped),
begin / end / shrink masks, 1-D to 4-D, and seeded random slices; the refusals (5-D as TFLM, ellipsis / new-axis
masks, the offset option TFLM ignores, stride 0, an empty result, run-time begin)."""

from __future__ import annotations

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
from tinyml_cosim.nn.ops.strided_slice import prepare
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
MASKS = ("begin_mask", "end_mask", "shrink_axis_mask")


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("strided_slice", Path(tmp_path_factory.mktemp("op_strided_slice")))


def _np(x: np.ndarray, b: list[int], e: list[int], s: list[int], o: dict[str, Any]) -> np.ndarray:
    """TensorFlow's strided slice in Python slices: the independent check of what TFLM computed."""
    index: list[Any] = []
    for d in range(x.ndim):
        if o.get("shrink_axis_mask", 0) >> d & 1:
            index.append(b[d])
            continue
        start = None if o.get("begin_mask", 0) >> d & 1 else b[d]
        stop = None if o.get("end_mask", 0) >> d & 1 else e[d]
        index.append(slice(start, stop, s[d]))
    return x[tuple(index)]


def _model(shape: tuple[int, ...], b: list[int], e: list[int], s: list[int], o: dict[str, Any], **kw: Any) -> bytes:
    out = _np(np.zeros(shape, np.int8), b, e, s, o).shape
    dtype = kw.get("dtype", "int8")
    n = len(shape)
    consts = [T(name, (n,), "int32", data=np.array(v, np.int32)) for name, v in (("b", b), ("e", e), ("s", s))]
    if not kw.get("const", True):
        consts[0] = T("b", (n,), "int32")
    zp = 3 if dtype == "int8" else 0
    tensors = [T("x", shape, dtype, [0.05], [zp]), *consts, T("y", out, dtype, [0.05], [zp])]
    return build_model(tensors, [Op("STRIDED_SLICE", [0, 1, 2, 3], [4], o)], [0], [4])


def _x(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)


def _check(kernel: tuple[Any, Any], x: np.ndarray, b: list[int], e: list[int], s: list[int], **o: Any) -> None:
    model = _model(x.shape, b, e, s, o, dtype=str(x.dtype))
    want = run_tflm(model, x)[0]
    assert want.dtype == x.dtype
    np.testing.assert_array_equal(want.reshape(-1), _np(x, b, e, s, o).reshape(-1))
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == ["strided_slice" if x.dtype == np.int8 else "strided_slice_s16"]
    np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want)
    np.testing.assert_array_equal(run_graph_c(*kernel, graph, x).reshape(want.shape), want)


CORNERS: list[tuple[tuple[int, ...], list[int], list[int], list[int], dict[str, Any]]] = [
    ((1, 10, 6), [0, 1, 0], [1, 9, 6], [1, 2, 1], {}),  # every other row
    ((1, 10, 6), [0, 8, 5], [1, 0, 0], [1, -2, -1], {}),  # backwards on two axes
    ((1, 10, 6), [0, -3, -6], [1, -1, 6], [1, 1, 2], {}),  # negative indices
    ((1, 10, 6), [0, -20, 2], [1, 40, 99], [1, 3, 1], {}),  # out of range: clamped
    ((1, 10, 6), [0, 9, 0], [1, -20, 6], [1, -3, 1], {}),  # negative stride to before the start
    ((1, 10, 6), [0, 5, 3], [0, 0, 0], [1, 1, 1], {"begin_mask": 0, "end_mask": 7}),  # to the end
    ((1, 10, 6), [0, 5, 3], [1, 2, 1], [1, -1, -1], {"begin_mask": 6}),  # masked start, negative strides
    ((1, 10, 6), [0, 4, 0], [1, 5, 6], [1, 1, 1], {"shrink_axis_mask": 3}),  # two axes dropped
    ((1, 10, 6), [0, -1, 1], [1, 0, 4], [1, 1, 1], {"shrink_axis_mask": 2}),  # shrink at a negative index
    ((9,), [7], [0], [-2], {}),
    ((1, 4, 5, 6), [0, 1, 0, 5], [1, 4, 5, 0], [1, 1, 2, -2], {}),
    ((2, 4, 5, 6), [1, 0, 1, 0], [2, 4, 5, 6], [1, 2, 3, 2], {}),  # batch 2
]


DTYPES = ("int8", "int16")  # int16: the activations of a 16x8 model (TFLM's one template)


@needs_tflm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CORNERS, ids=[f"{c[0]}-{c[1]}-{c[3]}-{c[4]}" for c in CORNERS])
def test_corners(kernel: tuple[Any, Any], case: Any, dtype: str) -> None:
    shape, b, e, s, o = case
    _check(kernel, _x(np.random.default_rng([71, len(shape)]), shape, dtype), b, e, s, **o)


@needs_tflm
@pytest.mark.parametrize("dtype", DTYPES)
def test_seeded_random_slices(kernel: tuple[Any, Any], dtype: str) -> None:
    rng = np.random.default_rng([72, len(dtype)])
    done = 0
    while done < 30:
        shape = tuple(int(v) for v in rng.integers(1, 7, rng.integers(1, 5)))
        n = len(shape)
        b = [int(v) for v in rng.integers(-8, 8, n)]
        e = [int(v) for v in rng.integers(-8, 8, n)]
        s = [int(v) for v in rng.choice([-3, -2, -1, 1, 2, 3], n)]
        o = {k: int(rng.integers(0, 1 << n)) for k in ("begin_mask", "end_mask")}
        if _np(np.zeros(shape), b, e, s, o).size == 0:
            continue
        _check(kernel, _x(rng, shape, dtype), b, e, s, **o)
        done += 1


@pytest.mark.parametrize(
    ("o", "s", "fragment"),
    [
        ({"ellipsis_mask": 1}, [1, 1, 1], "ellipsis_mask is set: TFLM does not implement it"),
        ({"new_axis_mask": 2}, [1, 1, 1], "new_axis_mask is set"),
        ({}, [1, 0, 1], "a stride of 0 is not allowed"),
        ({"offset": True}, [1, 1, 1], "the offset option is set: TFLM ignores it"),
    ],
)
def test_refusals_name_the_reason(o: dict[str, Any], s: list[int], fragment: str) -> None:
    tensors = [
        T("x", (1, 4, 6), "int8", [0.05], [3]),
        *(T(n, (3,), "int32", data=np.array(v, np.int32)) for n, v in (("b", [0, 0, 0]), ("e", [1, 4, 6]), ("s", s))),
        T("y", (1, 4, 6), "int8", [0.05], [3]),
    ]
    model = build_model(tensors, [Op("STRIDED_SLICE", [0, 1, 2, 3], [4], o)], [0], [4])
    with pytest.raises(BadInput, match=fragment) as e:
        lower_model(parse_tflite(model))
    assert "\n" not in str(e.value) and "operator 0 (STRIDED_SLICE)" in str(e.value)


def test_empty_result_and_run_time_begin_are_refused() -> None:
    with pytest.raises(BadInput, match="input rank 5: TFLM supports 1-D to 4-D"):
        prepare((1, 2, 3, 4, 5), [0] * 5, [1, 2, 3, 4, 5], [1] * 5, (1, 2, 3, 4, 5), {})
    with pytest.raises(BadInput, match="axis 1 selects no element"):
        prepare((1, 4, 6), [0, 3, 0], [1, 1, 6], [1, 1, 1], (1, 0, 6), {})
    with pytest.raises(BadInput, match="not a constant tensor"):
        lower_model(parse_tflite(_model((1, 4, 6), [0, 0, 0], [1, 4, 6], [1, 2, 1], {}, const=False)))
