"""SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND (int8; 4-D NHWC or 3-D NHC; constant int32 block_shape and
paddings / crops), as TFLM's reference kernels: the pair Keras exports around a dilated convolution.

SPACE_TO_BATCH_ND pads the image and deals its pixels out to block_h * block_w batches (output batch
(row phase * block_w + column phase) * batches + b); BATCH_TO_SPACE_ND interleaves them back and crops. Prepare
turns either into one table per spatial dimension of source element offsets (-1 where SPACE_TO_BATCH_ND pads), so the
one C kernel only copies or fills runs of `depth` bytes.

The padding: TFLM's int8 SPACE_TO_BATCH_ND fills with its SpaceToBatchParams.output_offset, which its Prepare never
sets, so it stays 0 (the zeroed persistent buffer): padded pixels are byte 0 whatever the output zero point, not the
quantized 0.0 that TensorFlow Lite writes. The kernel follows TFLM (pad_value 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer, operands
from tinyml_cosim.nn.ops.slice import constant_ints
from tinyml_cosim.nn.tflite_reader import RawOperator

TFLM_PAD_VALUE = 0  # SpaceToBatchParams.output_offset, never set by TFLM's Prepare


@dataclass(frozen=True)
class BatchSpaceParams:
    """cosim_space_to_batch_nd_t (the two offset tables are emitted as const int32_t arrays)"""

    blocks_h: int  # output batch groups walked outside the batches (1, 1 for BATCH_TO_SPACE_ND)
    blocks_w: int
    batches: int
    out_h: int
    out_w: int
    depth: int
    batch_stride: int  # input elements per batch
    pad_value: int
    h_offset: tuple[int, ...]  # blocks_h * out_h entries: input element offset of the row, -1 = padding
    w_offset: tuple[int, ...]  # blocks_w * out_w entries: of the column
    block: tuple[int, int]  # for the numpy reference
    edges: tuple[int, int, int, int]  # paddings / crops: top, bottom, left, right
    to_batch: bool


def _shape4(op: str, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    if len(shape) not in (3, 4):
        raise BadInput(f"{op}: rank {len(shape)}: TFLM supports 4-D (NHWC) and 3-D (NHC) tensors only")
    b, h, *w, c = shape  # NHC is NH1C
    return b, h, w[0] if w else 1, c


def _operands(
    op: str, rank: int, block: list[int] | None, edges: list[int] | None, what: str
) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    m = rank - 2  # spatial dimensions
    if block is None or edges is None:
        raise BadInput(f"{op}: block_shape or {what} is not a constant tensor: TFLM needs constant int32 tensors")
    if len(block) != m or len(edges) != 2 * m:
        raise BadInput(f"{op}: block_shape {block} / {what} {edges}: a {rank}-D tensor needs {m} and {m}x2 values")
    if min(block) < 1 or min(edges) < 0:
        raise BadInput(f"{op}: block_shape {block} / {what} {edges}: blocks must be >= 1, {what} >= 0")
    bh, bw = (block[0], block[1]) if m == 2 else (block[0], 1)
    t, b_, le, r = (*edges,) if m == 2 else (*edges, 0, 0)
    return (bh, bw), (t, b_, le, r)


def _check_out(op: str, out_shape: tuple[int, ...], want: tuple[int, int, int, int], rank: int) -> None:
    want_r = want if rank == 4 else (want[0], want[1], want[3])
    if tuple(out_shape) != want_r:
        raise BadInput(f"{op}: output shape {list(out_shape)}: the shapes and constants make {list(want_r)}")


def prepare_space_to_batch(
    in_shape: tuple[int, ...], block: list[int] | None, paddings: list[int] | None, out_shape: tuple[int, ...]
) -> BatchSpaceParams:
    op = "SPACE_TO_BATCH_ND"
    b, h, w, c = _shape4(op, in_shape)
    (bh, bw), (pt, pb, pl, pr) = _operands(op, len(in_shape), block, paddings, "paddings")
    if (h + pt + pb) % bh or (w + pl + pr) % bw:
        raise BadInput(f"{op}: the padded input {h + pt + pb}x{w + pl + pr} is not a multiple of the blocks {bh}x{bw}")
    oh, ow = (h + pt + pb) // bh, (w + pl + pr) // bw
    _check_out(op, out_shape, (b * bh * bw, oh, ow, c), len(in_shape))
    hs = tuple(
        -1 if not 0 <= y * bh + dy - pt < h else (y * bh + dy - pt) * w * c for dy in range(bh) for y in range(oh)
    )
    ws = tuple(-1 if not 0 <= x * bw + dx - pl < w else (x * bw + dx - pl) * c for dx in range(bw) for x in range(ow))
    return BatchSpaceParams(bh, bw, b, oh, ow, c, h * w * c, TFLM_PAD_VALUE, hs, ws, (bh, bw), (pt, pb, pl, pr), True)


def prepare_batch_to_space(
    in_shape: tuple[int, ...], block: list[int] | None, crops: list[int] | None, out_shape: tuple[int, ...]
) -> BatchSpaceParams:
    op = "BATCH_TO_SPACE_ND"
    b, h, w, c = _shape4(op, in_shape)
    (bh, bw), (ct, cb, cl, cr) = _operands(op, len(in_shape), block, crops, "crops")
    if b % (bh * bw):
        raise BadInput(f"{op}: input batch {b} is not a multiple of the blocks {bh}x{bw}")
    ob, oh, ow = b // (bh * bw), h * bh - ct - cb, w * bw - cl - cr
    if oh < 1 or ow < 1:
        raise BadInput(f"{op}: crops {[ct, cb, cl, cr][: 2 * (len(in_shape) - 2)]} leave an empty output")
    _check_out(op, out_shape, (ob, oh, ow, c), len(in_shape))
    group = ob * h * w * c  # input elements per (row phase, column phase) group of batches
    hs = tuple(((y + ct) % bh) * bw * group + ((y + ct) // bh) * w * c for y in range(oh))
    ws = tuple(((x + cl) % bw) * group + ((x + cl) // bw) * c for x in range(ow))
    return BatchSpaceParams(1, 1, ob, oh, ow, c, h * w * c, 0, hs, ws, (bh, bw), (ct, cb, cl, cr), False)


def reference(p: BatchSpaceParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    (bh, bw), (t, bo, le, r) = p.block, p.edges
    x4 = x if x.ndim == 4 else x[:, :, None, :]  # NHC is NH1C
    b, h, w, c = x4.shape
    if p.to_batch:
        padded = np.pad(x4, ((0, 0), (t, bo), (le, r), (0, 0)), constant_values=p.pad_value)
        hp, wp = h + t + bo, w + le + r
        cells = padded.reshape(b, hp // bh, bh, wp // bw, bw, c).transpose(2, 4, 0, 1, 3, 5)
        y = cells.reshape(bh * bw * b, hp // bh, wp // bw, c)
    else:
        ob = b // (bh * bw)
        full = x4.reshape(bh, bw, ob, h, w, c).transpose(2, 3, 0, 4, 1, 5).reshape(ob, h * bh, w * bw, c)
        y = full[:, t : h * bh - bo, le : w * bw - r]
    return np.ascontiguousarray(y if x.ndim == 4 else y[:, :, 0, :])


Prepare = Callable[[tuple[int, ...], list[int] | None, list[int] | None, tuple[int, ...]], BatchSpaceParams]


def _lower(ctx: Lowering, op: RawOperator, kind: str, prepare: Prepare, what: str) -> Layer:
    ins = operands(ctx, op, ("input",), constant_ok=False)
    x = ins[0][1]
    y = ctx.act_tensor(op, op.outputs[0], "output")
    if (x.scale, x.zero_point) != (y.scale, y.zero_point):
        raise ctx.fail(
            op, f"input and output quantization differ: TFLM's {op.name} moves bytes, it does not requantize"
        )
    if len(op.inputs) != 3:
        raise ctx.fail(op, f"{len(op.inputs)} inputs: {op.name} takes the input, block_shape and {what}")
    block = constant_ints(ctx, op, op.inputs[1], "block_shape", ("int32",))
    edges = constant_ints(ctx, op, op.inputs[2], what, ("int32",))
    p = checked(ctx, op, prepare, x.shape, block, edges, y.shape)
    tables = {k: np.array(getattr(p, k), np.int32) for k in ("h_offset", "w_offset")}
    return make_layer(op, kind, p, ins, y, skip=("block", "edges", "to_batch"), arrays=tables)


def lower_space_to_batch(ctx: Lowering, op: RawOperator) -> Layer:
    return _lower(ctx, op, "space_to_batch_nd", prepare_space_to_batch, "paddings")


def lower_batch_to_space(ctx: Lowering, op: RawOperator) -> Layer:
    return _lower(ctx, op, "batch_to_space_nd", prepare_batch_to_space, "crops")


OPERATORS = (
    Operator(
        "space_to_batch_nd",
        ("SPACE_TO_BATCH_ND",),
        "cosim_space_to_batch_nd_t",
        "cosim_space_to_batch_nd_s8",
        "ops/space_to_batch_nd.h",
        lower_space_to_batch,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
    Operator(
        "batch_to_space_nd",
        ("BATCH_TO_SPACE_ND",),
        "cosim_space_to_batch_nd_t",
        "cosim_space_to_batch_nd_s8",
        "ops/space_to_batch_nd.h",
        lower_batch_to_space,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
