"""SPACE_TO_DEPTH and DEPTH_TO_SPACE (int8): the lowered graph (numpy golden and the host-built C kernel) and the
kernel on its own vs tflite-micro, byte for byte, for every block size on seeded random shapes (batch 2 through the
kernel: the graph takes batch 1), the two as inverses, and the refusals (block_size, divisibility, rank, shapes)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import run_graph_c
from hostops import load_op, struct
from tflite_ops_writer import unary_model
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.ops import space_to_depth as s2d
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
Q = (0.07, -9)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("space_to_depth", Path(tmp_path_factory.mktemp("op_space_to_depth")))


def _model(op: str, shape: tuple[int, ...], out: tuple[int, ...], block: int) -> bytes:
    tensors = [T("x", shape, "int8", [Q[0]], [Q[1]]), T("y", out, "int8", [Q[0]], [Q[1]])]
    return build_model(tensors, [Op(op, [0], [1], {"block_size": block})], [0], [1])


def _out_shape(op: str, shape: tuple[int, ...], s: int) -> tuple[int, ...]:
    b, h, w, c = shape
    return (b, h // s, w // s, c * s * s) if op == "SPACE_TO_DEPTH" else (b, h * s, w * s, c // (s * s))


def _check(kernel: tuple[Any, Any], op: str, x: np.ndarray, s: int) -> np.ndarray:
    out = _out_shape(op, x.shape, s)
    model = _model(op, x.shape, out, s)
    want = run_tflm(model, x)[0]
    prepare = s2d.prepare_space_to_depth if op == "SPACE_TO_DEPTH" else s2d.prepare_depth_to_space
    p = prepare(x.shape, s, out)
    np.testing.assert_array_equal(s2d.reference(p, x), want)
    ffi, lib = kernel
    got = np.zeros(x.size, np.int8)
    desc = struct(ffi, "cosim_space_to_depth_t", {"out_shape": p.out_shape, "in_strides": p.in_strides}, [])
    src = np.ascontiguousarray(x)
    lib.cosim_space_to_depth_s8(desc, ffi.from_buffer("int8_t[]", src), ffi.from_buffer("int8_t[]", got))
    np.testing.assert_array_equal(got.reshape(want.shape), want)
    if x.shape[0] == 1:  # the compiler's path: lowering, numpy golden over the graph, the C kernel it calls
        graph = lower_model(parse_tflite(model))
        np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want)
        np.testing.assert_array_equal(run_graph_c(ffi, lib, graph, x).reshape(want.shape), want)
    return want


@needs_tflm
@pytest.mark.parametrize("op", ["SPACE_TO_DEPTH", "DEPTH_TO_SPACE"])
@pytest.mark.parametrize("block", [1, 2, 3, 4])
def test_every_block_size(kernel: tuple[Any, Any], op: str, block: int) -> None:
    rng = np.random.default_rng([31, block])
    # distinct sizes, so that a wrong stride cannot hide
    shape = (1, 2 * block, 3 * block, 5) if op == "SPACE_TO_DEPTH" else (1, 2, 3, 5 * block * block)
    _check(kernel, op, rng.integers(-128, 128, shape, dtype=np.int8), block)


@needs_tflm
@pytest.mark.parametrize("seed", range(6))
def test_seeded_shapes(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([31, 100, seed])
    s = int(rng.integers(1, 4))
    b = 2 if seed % 3 == 0 else 1  # batch 2 through the kernel alone
    h, w, c = (int(d) for d in rng.integers(1, 5, 3))
    x = rng.integers(-128, 128, (b, h * s, w * s, c), dtype=np.int8)
    y = _check(kernel, "SPACE_TO_DEPTH", x, s)
    back = _check(kernel, "DEPTH_TO_SPACE", y, s)  # the two are inverses
    np.testing.assert_array_equal(back, x)


@pytest.mark.parametrize(
    ("op", "shape", "block", "out", "msg"),
    [
        ("SPACE_TO_DEPTH", (1, 4, 4, 2), 0, (1, 4, 4, 2), "block_size 0: it must be at least 1"),
        ("DEPTH_TO_SPACE", (1, 4, 4, 8), -2, (1, 4, 4, 8), "block_size -2: it must be at least 1"),
        ("SPACE_TO_DEPTH", (1, 5, 4, 2), 2, (1, 2, 2, 8), "multiples of block_size 2"),
        ("DEPTH_TO_SPACE", (1, 2, 2, 6), 2, (1, 4, 4, 1), "multiple of block_size"),
        ("SPACE_TO_DEPTH", (4, 4, 2), 2, (2, 2, 8), "input rank 3"),
        (
            "SPACE_TO_DEPTH",
            (1, 4, 4, 2),
            2,
            (1, 2, 2, 4),
            r"output shape \[1, 2, 2, 4\]: block_size makes \[1, 2, 2, 8\]",
        ),
    ],
)
def test_refusals(op: str, shape: tuple[int, ...], block: int, out: tuple[int, ...], msg: str) -> None:
    prepare = s2d.prepare_space_to_depth if op == "SPACE_TO_DEPTH" else s2d.prepare_depth_to_space
    with pytest.raises(BadInput, match=f"{op}: .*{msg}"):
        prepare(shape, block, out)


def test_requantizing_model_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s2d.tflite"
    path.write_bytes(unary_model("SPACE_TO_DEPTH", (1, 4, 4, 2), (0.1, 0), (0.2, 0), (1, 2, 2, 8)))
    with pytest.raises(
        BadInput, match=rf"^{re.escape(str(path))}: operator .*quantization differ: TFLM's SPACE_TO_DEPTH moves bytes"
    ):
        lower_model(parse_tflite(path.read_bytes(), path))
