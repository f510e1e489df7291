"""SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND (int8, 4-D NHWC and 3-D NHC): numpy reference and the host-built C
kernel vs tflite-micro, byte for byte, for the block shapes, paddings and crops Keras' dilated convolutions export and
seeded random ones; the 3-D forms also through the compiler's lowering. The int8 padding value: TFLM fills with a
parameter its Prepare never sets (its persistent buffer, zero on a fresh arena), so the padded bytes are compared
with a fresh-arena TFLM in its own process and every other byte with the in-process golden."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tflite_ops_writer  # noqa: F401  (registers the options writers)
from hostbuild import run_graph_c
from hostops import load_op, struct
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.ops import space_to_batch_nd as sb
from tinyml_cosim.nn.ops.base import struct_fields
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
Q = (0.04, -17)  # a non-zero zero point: TFLM's padding is byte 0, not the zero point
PREPARE = {"SPACE_TO_BATCH_ND": sb.prepare_space_to_batch, "BATCH_TO_SPACE_ND": sb.prepare_batch_to_space}


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("space_to_batch_nd", Path(tmp_path_factory.mktemp("op_space_to_batch_nd")))


def _model(
    op: str, shape: tuple[int, ...], block: list[int], edges: list[int], out: tuple[int, ...], **kw: Any
) -> bytes:
    m = len(block)
    tensors = [
        T("x", shape, "int8", [Q[0]], [Q[1]]),
        T("block_shape", (m,), kw.get("dtype", "int32"), data=np.array(block, kw.get("dtype", "int32"))),
        T("edges", (m, 2), "int32", data=np.array(edges, np.int32).reshape(m, 2)),
        T("y", out, "int8", [kw.get("out_scale", Q[0])], [Q[1]]),
    ]
    return build_model(tensors, [Op(op, [0, 1, 2], [3])], [0], [3])


def _out(op: str, shape: tuple[int, ...], block: list[int], e: list[int]) -> tuple[int, ...]:
    b, h, c = shape[0], shape[1], shape[-1]
    bh, bw = (block[0], block[1]) if len(shape) == 4 else (block[0], 1)
    if op == "SPACE_TO_BATCH_ND":
        ob, oh = b * bh * bw, (h + e[0] + e[1]) // bh
        return (ob, oh, (shape[2] + e[2] + e[3]) // bw, c) if len(shape) == 4 else (ob, oh, c)
    ob, oh = b // (bh * bw), h * bh - e[0] - e[1]
    return (ob, oh, shape[2] * bw - e[2] - e[3], c) if len(shape) == 4 else (ob, oh, c)


def _kernel_out(kernel: tuple[Any, Any], p: sb.BatchSpaceParams, x: np.ndarray, n: int) -> np.ndarray:
    ffi, lib = kernel
    keep: list[Any] = []
    fields = {
        k: list(v) if isinstance(v, tuple) else v for k, v in struct_fields(p, ["block", "edges", "to_batch"]).items()
    }
    desc = struct(ffi, "cosim_space_to_batch_nd_t", fields, keep)
    got = np.zeros(n, np.int8)
    src = np.ascontiguousarray(x)
    lib.cosim_space_to_batch_nd_s8(desc, ffi.from_buffer("int8_t[]", src), ffi.from_buffer("int8_t[]", got))
    return got


def _padded(p: sb.BatchSpaceParams, shape: tuple[int, ...]) -> np.ndarray:
    """Where the output is padding: the reference over an input of ones is zero exactly there."""
    return sb.reference(p, np.ones(shape, np.int8)) == 0


def _check(kernel: tuple[Any, Any], op: str, x: np.ndarray, block: list[int], edges: list[int]) -> np.ndarray:
    out = _out(op, x.shape, block, edges)
    model = _model(op, x.shape, block, edges, out)
    want = run_tflm(model, x)[0]
    p = PREPARE[op](x.shape, block, edges, out)
    pad = _padded(p, x.shape)
    ref = sb.reference(p, x)
    np.testing.assert_array_equal(ref[~pad], want[~pad])  # TFLM's padded bytes depend on its arena: see below
    assert not ref[pad].any()
    got = _kernel_out(kernel, p, x, ref.size).reshape(ref.shape)
    np.testing.assert_array_equal(got, ref)
    if len(x.shape) == 3:  # the compiler's path (4-D ones have batch > 1 on one side, which the graph refuses)
        graph = lower_model(parse_tflite(model))
        np.testing.assert_array_equal(run_graph(graph, x).reshape(ref.shape), ref)
        np.testing.assert_array_equal(run_graph_c(*kernel, graph, x).reshape(ref.shape), ref)
    return ref


CASES = [
    ((1, 6, 6, 3), [2, 2], [2, 2, 2, 2]),  # a 3x3 convolution with dilation 2, padding SAME
    ((1, 7, 5, 2), [2, 2], [0, 1, 1, 0]),  # odd sizes padded up to the block
    ((1, 9, 9, 1), [3, 3], [3, 3, 3, 3]),  # dilation 3
    ((1, 4, 6, 2), [1, 3], [0, 0, 0, 0]),  # a block of one row: dilation in width only, no padding
    ((2, 4, 4, 3), [2, 1], [1, 1, 0, 0]),  # batch 2
    ((1, 8, 4), [2], [0, 0]),  # 3-D: a dilated Conv1D
    ((1, 7, 3), [4], [3, 2]),
    ((2, 5, 2), [3], [1, 0]),
]


@needs_tflm
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_round_trip_as_keras_dilated_convolutions_export(
    kernel: tuple[Any, Any], case: tuple[tuple[int, ...], list[int], list[int]]
) -> None:
    shape, block, edges = case
    x = np.random.default_rng([61, len(shape), block[0]]).integers(-128, 128, shape, dtype=np.int8)
    batched = _check(kernel, "SPACE_TO_BATCH_ND", x, block, edges)
    back = _check(kernel, "BATCH_TO_SPACE_ND", batched, block, edges)  # crops = paddings undo it
    np.testing.assert_array_equal(back, x)


@needs_tflm
@pytest.mark.parametrize("seed", range(8))
def test_seeded(kernel: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([61, 100, seed])
    rank = 3 + seed % 2
    m = rank - 2
    block = [int(v) for v in rng.integers(1, 4, m)]
    spatial = [int(v) for v in rng.integers(1, 6, m)]
    shape = (int(rng.integers(1, 3)), *spatial, int(rng.integers(1, 5)))
    edges = []
    for size, blk in zip(spatial, block, strict=True):
        before = int(rng.integers(0, 3))
        after = (-(size + before)) % blk + blk * int(rng.integers(0, 2))
        edges += [before, after]
    _check(kernel, "SPACE_TO_BATCH_ND", rng.integers(-128, 128, shape, dtype=np.int8), block, edges)
    # and an unrelated BATCH_TO_SPACE_ND: crops of less than a block each side, never the whole dimension
    crops = []
    for size, blk in zip(spatial, block, strict=True):
        pair = [int(v) for v in rng.integers(0, blk, 2)]
        crops += pair if sum(pair) < size * blk else [0, 0]
    b2s_shape = (shape[0] * int(np.prod(block)), *spatial, shape[-1])
    _check(kernel, "BATCH_TO_SPACE_ND", rng.integers(-128, 128, b2s_shape, dtype=np.int8), block, crops)


FRESH_ARENA = """
import sys
import numpy as np
from tinyml_cosim.nn.golden import run_tflm
print(run_tflm(open(sys.argv[1], "rb").read(), np.load(sys.argv[2]))[0].tobytes().hex())
"""


@needs_tflm
def test_padding_is_byte_zero_as_tflm_on_a_fresh_arena(kernel: tuple[Any, Any], tmp_path: Path) -> None:
    x = np.random.default_rng([61, 7]).integers(-128, 128, (1, 5, 3, 2), dtype=np.int8)
    block, edges = [2, 2], [2, 1, 1, 2]
    out = _out("SPACE_TO_BATCH_ND", x.shape, block, edges)
    (tmp_path / "m.tflite").write_bytes(_model("SPACE_TO_BATCH_ND", x.shape, block, edges, out))
    np.save(tmp_path / "x.npy", x)
    run = subprocess.run(
        [sys.executable, "-c", FRESH_ARENA, str(tmp_path / "m.tflite"), str(tmp_path / "x.npy")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    want = np.frombuffer(bytes.fromhex(run.stdout.strip()), np.int8).reshape(out)
    p = sb.prepare_space_to_batch(x.shape, block, edges, out)
    assert _padded(p, x.shape).sum() > 0 and Q[1] != 0  # there is padding, and byte 0 is not the zero point
    np.testing.assert_array_equal(sb.reference(p, x), want)
    np.testing.assert_array_equal(_kernel_out(kernel, p, x, want.size).reshape(out), want)


@pytest.mark.parametrize(
    ("op", "shape", "block", "edges", "out", "msg"),
    [
        ("SPACE_TO_BATCH_ND", (1, 5, 4, 1), [2, 2], [0, 0, 0, 0], (4, 2, 2, 1), "padded input 5x4 is not a multiple"),
        ("SPACE_TO_BATCH_ND", (1, 4, 4, 1), [0, 2], [0, 0, 0, 0], (4, 2, 2, 1), "blocks must be >= 1"),
        ("SPACE_TO_BATCH_ND", (1, 4, 4, 1), [2, 2], [0, -2, 0, 2], (4, 1, 3, 1), "paddings >= 0"),
        ("SPACE_TO_BATCH_ND", (1, 4, 4, 1), [2], [0, 0], (2, 2, 4, 1), "a 4-D tensor needs 2 and 2x2 values"),
        ("SPACE_TO_BATCH_ND", (1, 4, 1), [2, 2], [0, 0, 0, 0], (4, 2, 1), "a 3-D tensor needs 1 and 1x2 values"),
        ("SPACE_TO_BATCH_ND", (1, 4, 4, 1), [2, 2], [0, 0, 0, 0], (2, 2, 2, 1), r"output shape \[2, 2, 2, 1\]"),
        ("SPACE_TO_BATCH_ND", (4, 4), [2], [0, 0], (8, 2), "rank 2: TFLM supports 4-D"),
        ("SPACE_TO_BATCH_ND", (1, 4, 4, 1), None, [0, 0, 0, 0], (4, 2, 2, 1), "not a constant tensor"),
        ("BATCH_TO_SPACE_ND", (6, 2, 2, 1), [2, 2], [0, 0, 0, 0], (1, 4, 4, 1), "input batch 6 is not a multiple"),
        ("BATCH_TO_SPACE_ND", (4, 2, 2, 1), [2, 2], [2, 2, 0, 0], (1, 0, 4, 1), "leave an empty output"),
        ("BATCH_TO_SPACE_ND", (4, 2, 2, 1), [2, 2], [0, 0, 1, 0], (1, 4, 4, 1), r"make \[1, 4, 3, 1\]"),
    ],
)
def test_refusals(
    op: str, shape: tuple[int, ...], block: list[int] | None, edges: list[int], out: tuple[int, ...], msg: str
) -> None:
    with pytest.raises(BadInput, match=f"{op}: .*{msg}"):
        PREPARE[op](shape, block, edges, out)


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"dtype": "int64"}, "block_shape .* is int64: TFLM reads it as int32"),
        ({"out_scale": 0.5}, "quantization differ: TFLM's SPACE_TO_BATCH_ND moves bytes"),
    ],
)
def test_operand_refusals_name_the_file(kw: dict[str, Any], msg: str, tmp_path: Path) -> None:
    path = tmp_path / "s2b.tflite"
    path.write_bytes(_model("SPACE_TO_BATCH_ND", (1, 4, 2), [2], [0, 0], (2, 2, 2), **kw))
    with pytest.raises(BadInput, match=rf"^{re.escape(str(path))}: operator .*{msg}"):
        lower_model(parse_tflite(path.read_bytes(), path))
