"""SPACE_TO_DEPTH and DEPTH_TO_SPACE (int8, 4-D NHWC, `block_size`), as TFLM's reference kernels.

Both are a fixed reshuffle of bytes: SPACE_TO_DEPTH moves each block_size x block_size patch of pixels into the
channels of one output pixel (patch row, then patch column, then the input channel), DEPTH_TO_SPACE undoes it. So
Prepare writes either as one walk of the output over six dimensions with, per dimension, the input element stride;
the C kernel only moves bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer, operands
from tinyml_cosim.nn.tflite_reader import RawOperator

DIMS = 6  # batch, two spatial dimensions, the block's row and column, channels


@dataclass(frozen=True)
class BlockMoveParams:
    """cosim_space_to_depth_t: the output walked over six dimensions, the input stepped by per-dimension strides"""

    out_shape: tuple[int, ...]
    in_strides: tuple[int, ...]
    block_size: int  # for the numpy reference
    to_depth: bool  # SPACE_TO_DEPTH (True) or DEPTH_TO_SPACE


def _common(op: str, in_shape: tuple[int, ...], block_size: int) -> tuple[int, int, int, int]:
    if len(in_shape) != 4:
        raise BadInput(f"{op}: input rank {len(in_shape)}: TFLM needs a 4-D (NHWC) input")
    if block_size < 1:
        # TFLM's SPACE_TO_DEPTH would divide by it; its DEPTH_TO_SPACE refuses it.
        raise BadInput(f"{op}: block_size {block_size}: it must be at least 1")
    b, h, w, c = in_shape
    return b, h, w, c


def _check_out(op: str, out_shape: tuple[int, ...], want: tuple[int, ...]) -> None:
    if tuple(out_shape) != want:
        raise BadInput(f"{op}: output shape {list(out_shape)}: block_size makes {list(want)}")


def prepare_space_to_depth(in_shape: tuple[int, ...], block_size: int, out_shape: tuple[int, ...]) -> BlockMoveParams:
    b, h, w, c = _common("SPACE_TO_DEPTH", in_shape, block_size)
    s = block_size
    if h % s or w % s:
        raise BadInput(f"SPACE_TO_DEPTH: input {h}x{w}: height and width must be multiples of block_size {s}")
    _check_out("SPACE_TO_DEPTH", out_shape, (b, h // s, w // s, c * s * s))
    # output (batch, row, column, patch row, patch column, channel) reads input (batch, row*s + patch row, ...)
    shape = (b, h // s, w // s, s, s, c)
    strides = (h * w * c, s * w * c, s * c, w * c, c, 1)
    return BlockMoveParams(shape, strides, s, True)


def prepare_depth_to_space(in_shape: tuple[int, ...], block_size: int, out_shape: tuple[int, ...]) -> BlockMoveParams:
    b, h, w, c = _common("DEPTH_TO_SPACE", in_shape, block_size)
    s = block_size
    if c % (s * s):
        raise BadInput(f"DEPTH_TO_SPACE: {c} input channels: they must be a multiple of block_size^2 = {s * s}")
    oc = c // (s * s)
    _check_out("DEPTH_TO_SPACE", out_shape, (b, h * s, w * s, oc))
    # output (batch, row, patch row, column, patch column, channel): input channel (patch row*s + patch column)*oc + c
    shape = (b, h, s, w, s, oc)
    strides = (h * w * c, w * c, s * oc, c, oc, 1)
    return BlockMoveParams(shape, strides, s, False)


def reference(p: BlockMoveParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    b, h, w, c = x.shape
    s = p.block_size
    if p.to_depth:
        blocks = x.reshape(b, h // s, s, w // s, s, c).transpose(0, 1, 3, 2, 4, 5)
        return np.ascontiguousarray(blocks.reshape(b, h // s, w // s, s * s * c))
    spread = x.reshape(b, h, w, s, s, c // (s * s)).transpose(0, 1, 3, 2, 4, 5)
    return np.ascontiguousarray(spread.reshape(b, h * s, w * s, c // (s * s)))


Prepare = Callable[[tuple[int, ...], int, tuple[int, ...]], BlockMoveParams]


def _lower(ctx: Lowering, op: RawOperator, kind: str, prepare: Prepare) -> Layer:
    ins = operands(ctx, op, ("input",), constant_ok=False)
    x = ins[0][1]
    y = ctx.act_tensor(op, op.outputs[0], "output")
    if (x.scale, x.zero_point) != (y.scale, y.zero_point):
        raise ctx.fail(
            op, f"input and output quantization differ: TFLM's {op.name} moves bytes, it does not requantize"
        )
    p = checked(ctx, op, prepare, x.shape, int(op.options.get("block_size", 0)), y.shape)
    return make_layer(op, kind, p, ins, y, skip=("block_size", "to_depth"))


def lower_space_to_depth(ctx: Lowering, op: RawOperator) -> Layer:
    return _lower(ctx, op, "space_to_depth", prepare_space_to_depth)


def lower_depth_to_space(ctx: Lowering, op: RawOperator) -> Layer:
    return _lower(ctx, op, "depth_to_space", prepare_depth_to_space)


OPERATORS = (
    Operator(
        "space_to_depth",
        ("SPACE_TO_DEPTH",),
        "cosim_space_to_depth_t",
        "cosim_space_to_depth_s8",
        "ops/space_to_depth.h",
        lower_space_to_depth,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
    Operator(
        "depth_to_space",
        ("DEPTH_TO_SPACE",),
        "cosim_space_to_depth_t",
        "cosim_space_to_depth_s8",
        "ops/space_to_depth.h",
        lower_depth_to_space,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
