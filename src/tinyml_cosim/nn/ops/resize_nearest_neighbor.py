"""RESIZE_NEAREST_NEIGHBOR (int8, 4-D NHWC, constant size), as TFLM's reference kernel.

TFLM picks each output row and column's source index in float32 (scale = in / out, or (in - 1) / (out - 1) with
align_corners; +0.5 with half_pixel_centers; floor, or round with align_corners). The indices depend only on the
shapes and options, so Prepare computes them here, in float32 exactly as TFLM does, and the C kernel copies bytes
from the two index tables: no float arithmetic on the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import (
    Lowering,
    Operator,
    checked,
    int32_values,
    make_layer,
    operands,
)
from tinyml_cosim.nn.quant import tflite_round
from tinyml_cosim.nn.tflite_reader import RawOperator


@dataclass(frozen=True)
class ResizeNearestParams:
    """cosim_resize_nearest_t (the two index tables are emitted as const int32_t arrays)"""

    batches: int
    in_h: int
    in_w: int
    depth: int
    out_h: int
    out_w: int
    y_index: tuple[int, ...]
    x_index: tuple[int, ...]


def nearest_index(i: int, in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool) -> int:
    f = np.float32
    scale = f(in_size - 1) / f(out_size - 1) if align_corners and out_size > 1 else f(in_size) / f(out_size)
    v = (f(i) + f(0.5 if half_pixel_centers else 0.0)) * scale  # float32 throughout, as in the C++
    j = tflite_round(float(v)) if align_corners else math.floor(float(v))
    j = min(j, in_size - 1)
    return max(0, j) if half_pixel_centers else j


def prepare(
    in_shape: tuple[int, ...],
    size: list[int] | None,
    out_shape: tuple[int, ...],
    align_corners: bool = False,
    half_pixel_centers: bool = False,
) -> ResizeNearestParams:
    if len(in_shape) != 4:
        raise BadInput(f"RESIZE_NEAREST_NEIGHBOR: input rank {len(in_shape)}: TFLM needs a 4-D (NHWC) input")
    if size is None:
        raise BadInput("RESIZE_NEAREST_NEIGHBOR: size is not a constant tensor: TFLM needs a constant int32[2]")
    if len(size) != 2 or min(size) < 1:
        raise BadInput(f"RESIZE_NEAREST_NEIGHBOR: size {size}: it must be two positive int32 (height, width)")
    b, h, w, c = in_shape
    want = (b, size[0], size[1], c)
    if tuple(out_shape) != want:
        raise BadInput(f"RESIZE_NEAREST_NEIGHBOR: output shape {list(out_shape)}: the size tensor makes {list(want)}")
    ys = tuple(nearest_index(y, h, size[0], align_corners, half_pixel_centers) for y in range(size[0]))
    xs = tuple(nearest_index(x, w, size[1], align_corners, half_pixel_centers) for x in range(size[1]))
    if min(ys + xs) < 0:
        raise BadInput("RESIZE_NEAREST_NEIGHBOR: a source index is negative (TFLM would read before the input)")
    return ResizeNearestParams(b, h, w, c, size[0], size[1], ys, xs)


def reference(p: ResizeNearestParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    return np.ascontiguousarray(x[:, list(p.y_index)][:, :, list(p.x_index)])


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("input",), constant_ok=False)
    x = ins[0][1]
    y = ctx.act_tensor(op, op.outputs[0], "output")
    if (x.scale, x.zero_point) != (y.scale, y.zero_point):
        raise ctx.fail(op, "input and output quantization differ: TFLM's RESIZE_NEAREST_NEIGHBOR copies bytes")
    size = int32_values(ctx, op, op.inputs[1], "size")
    o = op.options
    p = checked(
        ctx, op, prepare, x.shape, size, y.shape, o.get("align_corners", False), o.get("half_pixel_centers", False)
    )
    tables = {k: np.array(getattr(p, k), np.int32) for k in ("y_index", "x_index")}
    return make_layer(op, "resize_nearest", p, ins, y, arrays=tables)


OPERATORS = (
    Operator(
        "resize_nearest",
        ("RESIZE_NEAREST_NEIGHBOR",),
        "cosim_resize_nearest_t",
        "cosim_resize_nearest_s8",
        "ops/resize_nearest_neighbor.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
