"""AVERAGE_POOL_2D and MAX_POOL_2D int16, as TFLM's reference kernels (reference_integer_ops AveragePool / MaxPool
for int16).

TFLM's Prepare (PoolingPrepare): the padding of ComputePaddingHeightWidth without dilation (nn/graph.py's helpers,
as the int8 lowering), input and output scales within 1e-6 of each other (their float32 difference) and equal zero
points, the fused activation's range in int16. Eval: over the part of each window inside the image, the int32 sum
divided by the count, rounded half away from zero; or the largest value; then the activation clamp.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer
from tinyml_cosim.nn.ops.eltwise_16x8 import activation_range_16
from tinyml_cosim.nn.padding import compute_out_size, compute_padding
from tinyml_cosim.nn.tflite_reader import RawOperator

Shape4 = tuple[int, int, int, int]


@dataclass(frozen=True)
class Pool16Params:
    """cosim_pool_16x8_t"""

    batches: int
    in_h: int
    in_w: int
    channels: int
    out_h: int
    out_w: int
    k_h: int
    k_w: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    act_min: int
    act_max: int


def prepare(
    op: str,
    shapes: tuple[Shape4, Shape4],
    quant: tuple[tuple[float, int], tuple[float, int]],
    options: dict[str, object],
) -> Pool16Params:
    """`shapes`: input and output (NHWC); `quant`: (scale, zero point) of the input and the output; `options`:
    padding, stride_h / stride_w, filter_h / filter_w, activation."""

    (b, ih, iw, c), (ob, oh, ow, oc) = shapes
    (si, zi), (so, zo) = quant
    if ob != b or oc != c:
        raise BadInput(f"{op}: input {list(shapes[0])} and output {list(shapes[1])} differ in batch or channels")
    if float(abs(np.float32(si) - np.float32(so))) > 1e-6 or zi != zo:
        raise BadInput(
            f"{op}: input scale/zero point {si}/{zi}, output {so}/{zo}: TFLM's int16 pooling needs them equal"
        )
    padding = str(options.get("padding", "VALID"))
    kh, kw, sh, sw = (int(options.get(k, 1)) for k in ("filter_h", "filter_w", "stride_h", "stride_w"))  # type: ignore[call-overload]
    if padding not in ("SAME", "VALID"):
        raise BadInput(f"{op}: padding {padding}: TFLM takes SAME or VALID")
    if min(kh, kw, sh, sw) < 1:
        raise BadInput(f"{op}: filter {kh}x{kw}, strides {sh}x{sw}: each must be 1 or more")
    for axis, size, k, s, got in (("height", ih, kh, sh, oh), ("width", iw, kw, sw, ow)):
        want = compute_out_size(padding, size, k, s, 1)
        if want != got:
            raise BadInput(f"{op}: output {axis} is {got}, {padding} padding gives {want}")
    lo, hi = activation_range_16(op, str(options.get("activation", "NONE")), so, zo)
    pad_h, pad_w = compute_padding(sh, 1, ih, kh, oh), compute_padding(sw, 1, iw, kw, ow)
    return Pool16Params(b, ih, iw, c, oh, ow, kh, kw, sh, sw, pad_h, pad_w, lo, hi)


def _windows(p: Pool16Params, x: npt.NDArray[np.int16]) -> list[tuple[int, int, npt.NDArray[np.int64]]]:
    """(out_y, out_x, [batch, the window's pixels inside the image, channel]) for every output pixel."""
    xs = x.reshape(p.batches, p.in_h, p.in_w, p.channels).astype(np.int64)
    found = []
    for oy in range(p.out_h):
        y0 = oy * p.stride_h - p.pad_h
        for ox in range(p.out_w):
            x0 = ox * p.stride_w - p.pad_w
            win = xs[:, max(y0, 0) : min(y0 + p.k_h, p.in_h), max(x0, 0) : min(x0 + p.k_w, p.in_w), :]
            found.append((oy, ox, win.reshape(p.batches, -1, p.channels)))
    return found


def average(p: Pool16Params, x: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    out = np.zeros((p.batches, p.out_h, p.out_w, p.channels), np.int64)
    for oy, ox, win in _windows(p, x):
        n = win.shape[1]
        s = win.sum(axis=1)
        # C's truncating division of the sum nudged by half the count away from zero
        nudged = np.where(s > 0, s + n // 2, s - n // 2)
        out[:, oy, ox, :] = np.sign(nudged) * (np.abs(nudged) // max(n, 1))
    return np.clip(out, p.act_min, p.act_max).astype(np.int16)


def maximum(p: Pool16Params, x: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    out = np.full((p.batches, p.out_h, p.out_w, p.channels), -32768, np.int64)
    for oy, ox, win in _windows(p, x):
        if win.shape[1]:
            out[:, oy, ox, :] = win.max(axis=1)
    return np.clip(out, p.act_min, p.act_max).astype(np.int16)


def _lower(ctx: Lowering, op: RawOperator, kind: str) -> Layer:
    x = ctx.act_tensor(op, op.inputs[0], "input", "int16")
    y = ctx.act_tensor(op, op.outputs[0], "output", "int16")
    if len(x.shape) != 4 or len(y.shape) != 4:
        raise ctx.fail(op, f"input {list(x.shape)} and output {list(y.shape)} must be 4-D (NHWC)")
    b, h, w, c = x.shape
    ob, oh, ow, oc = y.shape
    quant = ((x.scale, x.zero_point), (y.scale, y.zero_point))
    p = checked(ctx, op, prepare, op.name, ((b, h, w, c), (ob, oh, ow, oc)), quant, dict(op.options))
    layer = make_layer(op, kind, p, [(x.id, x, None)], y)
    layer.macs = y.elements * p.k_h * p.k_w
    return layer


OPERATORS = (
    Operator(
        "avgpool_16x8",
        ("AVERAGE_POOL_2D",),
        "cosim_pool_16x8_t",
        "cosim_avgpool_16x8",
        "ops/pool_16x8.h",
        lambda ctx, op: _lower(ctx, op, "avgpool_16x8"),
        lambda layer, xs: average(layer.prepared, xs[0]),
        input_dtype="int16",
    ),
    Operator(
        "maxpool_16x8",
        ("MAX_POOL_2D",),
        "cosim_pool_16x8_t",
        "cosim_maxpool_16x8",
        "ops/pool_16x8.h",
        lambda ctx, op: _lower(ctx, op, "maxpool_16x8"),
        lambda layer, xs: maximum(layer.prepared, xs[0]),
        input_dtype="int16",
    ),
)
