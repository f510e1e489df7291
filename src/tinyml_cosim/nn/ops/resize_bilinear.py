"""RESIZE_BILINEAR (int8, 4-D NHWC, constant size), as TFLM's ResizeBilinearInteger.

TFLM's int8 path has no float: the source coordinate of each output row / column is a fixed-point value with 10
fractional bits (scale_10 = round(2^10 * in / out), or (in - 1) / (out - 1) with align_corners; half_pixel_centers
adds scale_10 / 2 - 2^9), its floor / ceiling are clamped to the input, and the four weighted bytes are summed with
20 fractional bits and rounded half away from zero. The coordinates depend only on the shapes and options, so Prepare
computes them here (lower index, upper index and 10-bit fraction per row and column) and the C kernel only weighs.
The bytes are not requantized: the output must carry the input's scale and zero point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, int32_values, make_layer, operands
from tinyml_cosim.nn.quant import f32
from tinyml_cosim.nn.tflite_reader import RawOperator

ONE = 1 << 10
TABLES = ("y_lo", "y_hi", "y_frac", "x_lo", "x_hi", "x_frac")


@dataclass(frozen=True)
class ResizeBilinearParams:
    """cosim_resize_bilinear_t (the six tables are emitted as const int32_t arrays)"""

    batches: int
    in_h: int
    in_w: int
    depth: int
    out_h: int
    out_w: int
    y_lo: tuple[int, ...]
    y_hi: tuple[int, ...]
    y_frac: tuple[int, ...]  # source row - 2^10 * y_lo (negative near the edge with half_pixel_centers)
    x_lo: tuple[int, ...]
    x_hi: tuple[int, ...]
    x_frac: tuple[int, ...]


def _cdiv(a: int, b: int) -> int:
    """C's int division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def axis_table(
    in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool
) -> list[tuple[int, int, int]]:
    """(lower index, upper index, 10-bit fraction) of each output position along one axis."""
    scale = (ONE * in_size + out_size // 2) // out_size
    if align_corners and out_size > 1:
        scale = (ONE * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    rows = []
    for i in range(out_size):
        v = i * scale + scale // 2 - (1 << 9) if half_pixel_centers else i * scale
        lo = max(_cdiv(v, ONE), 0)
        hi = min(_cdiv(v + ONE - 1, ONE), in_size - 1)
        rows.append((lo, hi, v - ONE * lo))
    return rows


def prepare(
    in_shape: tuple[int, ...],
    size: list[int] | None,
    out_shape: tuple[int, ...],
    align_corners: bool = False,
    half_pixel_centers: bool = False,
) -> ResizeBilinearParams:
    if len(in_shape) != 4:
        raise BadInput(f"RESIZE_BILINEAR: input rank {len(in_shape)}: TFLM needs a 4-D (NHWC) input")
    if size is None:
        raise BadInput("RESIZE_BILINEAR: size is not a constant tensor: TFLM needs a constant int32[2]")
    if len(size) != 2 or min(size) < 1:
        raise BadInput(f"RESIZE_BILINEAR: size {size}: it must be two positive int32 (height, width)")
    if align_corners and half_pixel_centers:
        raise BadInput("RESIZE_BILINEAR: align_corners and half_pixel_centers are both set: TFLM refuses that")
    b, h, w, c = in_shape
    want = (b, size[0], size[1], c)
    if tuple(out_shape) != want:
        raise BadInput(f"RESIZE_BILINEAR: output shape {list(out_shape)}: the size tensor makes {list(want)}")
    if max(h, w, *size) >= 1 << 20:
        raise BadInput("RESIZE_BILINEAR: a side of 2^20 or more overflows TFLM's 10-bit fixed-point coordinates")
    ys = list(zip(*axis_table(h, size[0], align_corners, half_pixel_centers), strict=True))
    xs = list(zip(*axis_table(w, size[1], align_corners, half_pixel_centers), strict=True))
    return ResizeBilinearParams(b, h, w, c, size[0], size[1], *ys, *xs)


def reference(p: ResizeBilinearParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    v = x.astype(np.int64)
    y_lo, y_hi, x_lo, x_hi = (list(getattr(p, k)) for k in ("y_lo", "y_hi", "x_lo", "x_hi"))
    fy = np.array(p.y_frac, np.int64)[None, :, None, None]
    fx = np.array(p.x_frac, np.int64)[None, None, :, None]
    rows_lo, rows_hi = v[:, y_lo], v[:, y_hi]
    total = (
        rows_lo[:, :, x_lo] * (ONE - fy) * (ONE - fx)
        + rows_hi[:, :, x_lo] * fy * (ONE - fx)
        + rows_lo[:, :, x_hi] * (ONE - fy) * fx
        + rows_hi[:, :, x_hi] * fy * fx
    )
    rounded = total + np.where(total > 0, 1 << 19, -(1 << 19))
    q = np.abs(rounded) >> 20
    return np.ascontiguousarray(np.where(rounded < 0, -q, q).astype(np.int8))  # static_cast<int8_t>: wraps


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("input",), constant_ok=False)
    x = ins[0][1]
    y = ctx.act_tensor(op, op.outputs[0], "output")
    if (f32(x.scale), x.zero_point) != (f32(y.scale), y.zero_point):
        raise ctx.fail(op, "input and output quantization differ: TFLM's int8 RESIZE_BILINEAR does not requantize")
    size = int32_values(ctx, op, op.inputs[1], "size")
    o = op.options
    p = checked(
        ctx, op, prepare, x.shape, size, y.shape, o.get("align_corners", False), o.get("half_pixel_centers", False)
    )
    tables = {k: np.array(getattr(p, k), np.int32) for k in TABLES}
    return make_layer(op, "resize_bilinear", p, ins, y, arrays=tables)


OPERATORS = (
    Operator(
        "resize_bilinear",
        ("RESIZE_BILINEAR",),
        "cosim_resize_bilinear_t",
        "cosim_resize_bilinear_s8",
        "ops/resize_bilinear.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
