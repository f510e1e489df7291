"""SPLIT and SPLIT_V (int8, constant axis): every output of the lowered graph (numpy golden and the host-built C
kernels, one SLICE call per output) vs tflite-micro, byte for byte, over every axis (negative ones too), 2 to 4
outputs, SPLIT_V's -1 entry and unequal parts, 1-D to 4-D and a batch of 2; the refusals (run-time axis, outputs that
do not tile the input, a requantizing output); and a SPLIT whose parts meet again through QEMU."""

from __future__ import annotations

import shutil
from dataclasses import replace
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
from tinyml_cosim.nn.reference import run_graph_outputs
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
Q = ([0.05], [-7])


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("slice", Path(tmp_path_factory.mktemp("op_split")))


def _model(shape: tuple[int, ...], axis: int, parts: list[int], split_v: bool, **kw: Any) -> bytes:
    a = axis % len(shape)
    outs = [T(f"y{k}", tuple(p if d == a else n for d, n in enumerate(shape)), "int8", *Q) for k, p in enumerate(parts)]
    if kw.get("out_scale"):
        outs[-1] = T(outs[-1].name, outs[-1].shape, "int8", [kw["out_scale"]], Q[1])
    axis_t = T("axis", (), "int32", data=np.array(axis, np.int32)) if kw.get("const", True) else T("axis", (), "int32")
    x = T("x", shape, "int8", *Q)
    n = len(parts)
    out_ids = list(range(3, 3 + n))
    if split_v:
        sizes = kw.get("sizes", parts)
        tensors = [x, T("sizes", (n,), "int32", data=np.array(sizes, np.int32)), axis_t, *outs]
        ops = [Op("SPLIT_V", [0, 1, 2], out_ids, {"num_splits": n})]
    else:
        tensors = [x, axis_t, T("unused", (1,), "int32", data=np.zeros(1, np.int32)), *outs]
        ops = [Op("SPLIT", [1, 0], out_ids, {"num_splits": n})]
    return build_model(tensors, ops, [0], out_ids)


def _check(kernel: tuple[Any, Any], shape: tuple[int, ...], axis: int, parts: list[int], split_v: bool) -> None:
    model = _model(shape, axis, parts, split_v)
    x = np.random.default_rng([81, len(shape), len(parts)]).integers(-128, 128, shape, dtype=np.int8)
    want = run_tflm(model, x)
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == ["slice"] * len(parts)
    got = run_graph_outputs(graph, x)
    for k, w in enumerate(want):
        np.testing.assert_array_equal(got[k].reshape(w.shape), w, err_msg=f"numpy, output {k}")
    np.testing.assert_array_equal(np.concatenate([w.reshape(-1) for w in want]).size, x.size)
    for k, layer in enumerate(graph.layers):  # each output through the C kernel on its own
        sub = replace(graph, layers=[layer], output=layer.output, outputs=[layer.output])
        c = run_graph_c(*kernel, sub, x)
        np.testing.assert_array_equal(c.reshape(want[k].shape), want[k], err_msg=f"C, output {k}")


CASES: list[tuple[tuple[int, ...], int, list[int], bool]] = [
    ((1, 6, 4, 8), -1, [4, 4], False),
    ((1, 6, 4, 8), 1, [2, 2, 2], False),
    ((12,), 0, [3, 3, 3, 3], False),
    ((2, 4, 6), 0, [1, 1], False),  # a batch of 2 split into two images
    ((1, 6, 4, 8), 3, [3, 1, 4], True),
    ((1, 6, 4, 8), -3, [5, 1], True),
    ((3, 10), 1, [7, 3], True),
]


@needs_tflm
@pytest.mark.parametrize("case", CASES, ids=[f"{'V' if c[3] else 'S'}-{c[0]}-axis{c[1]}-{c[2]}" for c in CASES])
def test_every_output_is_bit_exact(kernel: tuple[Any, Any], case: Any) -> None:
    _check(kernel, *case)


@needs_tflm
def test_split_v_minus_one_takes_the_rest(kernel: tuple[Any, Any]) -> None:
    model = _model((1, 9, 4), 1, [2, 5, 2], True, sizes=[2, -1, 2])
    x = np.arange(36, dtype=np.int8).reshape(1, 9, 4)
    want = run_tflm(model, x)
    got = run_graph_outputs(lower_model(parse_tflite(model)), x)
    for k, w in enumerate(want):
        np.testing.assert_array_equal(got[k].reshape(w.shape), w)
    np.testing.assert_array_equal(want[1], x[:, 2:7])


@pytest.mark.parametrize(
    ("kw", "parts", "fragment"),
    [
        ({"const": False}, [4, 4], "axis is not a constant int32 scalar"),
        ({"out_scale": 0.1}, [4, 4], "output 1 quantization differs from the input's"),
    ],
)
def test_refusals_name_the_reason(kw: dict[str, Any], parts: list[int], fragment: str) -> None:
    with pytest.raises(BadInput, match=fragment) as e:
        lower_model(parse_tflite(_model((1, 6, 8), -1, parts, False, **kw)))
    assert "\n" not in str(e.value) and "operator 0 (SPLIT)" in str(e.value)


def test_outputs_that_do_not_tile_the_input_are_refused() -> None:
    tensors = [
        T("x", (1, 6, 8), "int8", *Q),
        T("axis", (), "int32", data=np.array(2, np.int32)),
        T("y0", (1, 6, 3), "int8", *Q),
        T("y1", (1, 6, 3), "int8", *Q),
    ]
    model = build_model(tensors, [Op("SPLIT", [1, 0], [2, 3], {"num_splits": 2})], [0], [2, 3])
    with pytest.raises(BadInput, match=r"extents \[3, 3\] along axis 2 do not tile the input's 8"):
        lower_model(parse_tflite(model))


@needs_tflm
@pytest.mark.qemu
@pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
def test_split_parts_concatenated_in_reverse_in_qemu(tmp_path: Path) -> None:
    """SPLIT_V into three parts, CONCATENATION of them in reverse order: a real data path through the runner."""
    from tinyml_cosim.orchestrate.model_check import check_model

    parts = [3, 1, 4]
    outs = [T(f"y{k}", (1, 5, p), "int8", *Q) for k, p in enumerate(parts)]
    tensors = [
        T("x", (1, 5, 8), "int8", *Q),
        T("sizes", (3,), "int32", data=np.array(parts, np.int32)),
        T("axis", (), "int32", data=np.array(-1, np.int32)),
        *outs,
        T("z", (1, 5, 8), "int8", *Q),
    ]
    ops = [Op("SPLIT_V", [0, 1, 2], [3, 4, 5], {"num_splits": 3}), Op("CONCATENATION", [5, 4, 3], [6], {"axis": 2})]
    model = tmp_path / "split_concat.tflite"
    model.write_bytes(build_model(tensors, ops, [0], [6]))
    rep = check_model(model, load_board("stm32f405"), vectors=3)
    assert rep["run_status"] == "exited" and rep["bit_exact"] is True and rep["mismatched_vectors"] == [], rep
