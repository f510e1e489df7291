"""ARG_MAX / ARG_MIN (int8 in, int32 out): the lowered graph (numpy golden and the host-built C kernel) vs
tflite-micro, index for index, over every axis (negative ones too) of seeded random 1-D to 5-D shapes, ties (the
first index wins), rails and a batch of 2; the refusals of what TFLM cannot run (an int64 output or axis, a run-time
axis, an axis out of range); and an int32 model output through QEMU (the model runner's bytes vs tflite-micro)."""

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

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("arg_min_max", Path(tmp_path_factory.mktemp("op_arg_min_max")))


def _model(name: str, shape: tuple[int, ...], axis: Any, **kw: Any) -> bytes:
    a = int(np.asarray(axis).reshape(-1)[0]) % len(shape)
    out = tuple(d for i, d in enumerate(shape) if i != a)
    axis_t = (
        T("axis", (1,), kw.get("axis_dtype", "int32"), data=np.array([axis], kw.get("axis_dtype", "int32")))
        if kw.get("const", True)
        else T("axis", (1,), "int32")
    )
    tensors = [T("x", shape, "int8", [0.05], [-4]), axis_t, T("y", out, kw.get("out_dtype", "int32"))]
    return build_model(tensors, [Op(name, [0, 1], [2], {"output_type": kw.get("out_dtype", "int32")})], [0], [2])


def _check(kernel: tuple[Any, Any], name: str, x: np.ndarray, axis: int) -> None:
    model = _model(name, x.shape, axis)
    want = run_tflm(model, x)[0]
    assert want.dtype == np.int32
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == [name.lower()]
    np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want)
    np.testing.assert_array_equal(run_graph_c(*kernel, graph, x).reshape(want.shape), want)
    # and independently of both: numpy's own first-index argmax / argmin
    np.testing.assert_array_equal(want, (np.argmax if name == "ARG_MAX" else np.argmin)(x, axis=axis))


SHAPES = [(7,), (3, 9), (1, 4, 6), (2, 3, 5), (1, 3, 4, 6), (1, 2, 3, 2, 5)]


@needs_tflm
@pytest.mark.parametrize("name", ["ARG_MAX", "ARG_MIN"])
@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
def test_every_axis_of_seeded_shapes(kernel: tuple[Any, Any], name: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng([61, len(shape), shape[-1]])
    for axis in range(-len(shape), len(shape)):
        if shape[axis] == 1 and len(shape) > 1 and axis >= 0:
            continue
        _check(kernel, name, rng.integers(-128, 128, shape, dtype=np.int8), axis)


@needs_tflm
@pytest.mark.parametrize("name", ["ARG_MAX", "ARG_MIN"])
def test_ties_and_rails(kernel: tuple[Any, Any], name: str) -> None:
    """All equal (index 0 wins), the rails, and a tie between the first and the last position."""
    _check(kernel, name, np.full((1, 4, 8), -128, np.int8), -1)
    _check(kernel, name, np.full((1, 4, 8), 127, np.int8), 1)
    x = np.zeros((3, 10), np.int8)
    x[:, 0] = x[:, -1] = 127 if name == "ARG_MAX" else -128
    _check(kernel, name, x, 1)


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"out_dtype": "int64"}, "output type int64: TFLM supports only int32"),
        ({"axis_dtype": "int64"}, "axis tensor is int64: TFLM supports only an int32 axis"),
        ({"const": False}, "axis is not a constant tensor"),
    ],
)
def test_refusals_name_the_reason(kw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(BadInput, match=fragment) as e:
        lower_model(parse_tflite(_model("ARG_MAX", (1, 4, 6), 2, **kw)))
    assert "\n" not in str(e.value) and "operator 0 (ARG_MAX)" in str(e.value)


def test_axis_out_of_range_is_refused() -> None:
    tensors = [T("x", (1, 4, 6), "int8", [0.05], [0]), T("axis", (1,), "int32", data=np.array([3], np.int32))]
    model = build_model([*tensors, T("y", (1, 4), "int32")], [Op("ARG_MAX", [0, 1], [2])], [0], [2])
    with pytest.raises(BadInput, match="axis 3 is out of range for a 3-D input"):
        lower_model(parse_tflite(model))


@needs_tflm
@pytest.mark.qemu
@pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
def test_int32_model_output_in_qemu(tmp_path: Path) -> None:
    """A classifier head that ends in ARG_MAX: the model's output is int32, packed and compared byte for byte."""
    from tinyml_cosim.orchestrate.model_check import check_model

    model = tmp_path / "argmax_head.tflite"
    model.write_bytes(_model("ARG_MAX", (1, 12, 10), -1))
    rep = check_model(model, load_board("stm32f405"), vectors=4)
    assert rep["run_status"] == "exited" and rep["bit_exact"] is True and rep["mismatched_vectors"] == [], rep
