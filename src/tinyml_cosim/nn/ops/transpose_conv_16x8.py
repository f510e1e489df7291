"""TRANSPOSE_CONV 16x8 (int16 activations, int8 per-channel or per-tensor filter, int64 or int16 bias), as TFLM's
reference kernel (reference_integer_ops::TransposeConv for int16).

TFLM's Prepare is the int8 one (nn/ops/transpose_conv.py: padding from the output size, per-channel multipliers
double(input scale) * double(filter scale) / double(output scale), the activation range in the int16 range). Eval
differs: no zero point is applied (TFLM's int16 kernel applies none: the output zero point only moves the
activation range), the scatter goes to an int64 scratch buffer the size of the output, the int64 bias is added and
the 64-bit MultiplyByQuantizedMultiplier requantizes (as CONV_2D 16x8: nn/ops/conv_16x8.py). TFLM reads the bias as
int64 whatever its type, except an int16 one, which it widens to int64 first (done here at compile time); an int32
bias would be read as int64 and is refused. TFLM never reads output_shape: a constant one is emitted and a run-time
one (the SEANet models take it as a model input) is passed to the kernel, which ignores both.

The variant is keyed by the output type: the first non-constant input can be a run-time int32 output_shape, and
TFLM requires the input and output types to be equal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer, Tensor
from tinyml_cosim.nn.ops.base import Lowering, Operand, Operator, checked
from tinyml_cosim.nn.ops.conv_16x8 import add_bias, multipliers, requantize
from tinyml_cosim.nn.ops.eltwise_16x8 import activation_range_16
from tinyml_cosim.nn.ops.transpose_conv import (
    Shape4,
    filter_operand,
    geometry,
    scatter,
    shape4,
    transpose_conv_layer,
)
from tinyml_cosim.nn.tflite_reader import RawOperator

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TransposeConv16Params:
    """cosim_transpose_conv_16x8_t (filter, bias, multiplier and shift are emitted as const arrays in flash)"""

    batches: int
    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    k_h: int
    k_w: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    act_min: int
    act_max: int
    filter: npt.NDArray[np.int8]  # [out_c, k_h, k_w, in_c]
    bias: I64 | None  # [out_c], None: NULL (no bias input)
    multiplier: npt.NDArray[np.int32]  # [out_c]
    shift: npt.NDArray[np.int32]  # [out_c]


def prepare(
    shapes: tuple[Shape4, Shape4],
    filt: npt.NDArray[np.int8],
    bias: I64 | None,
    quant: tuple[float, list[float], tuple[float, int]],
    options: dict[str, object],
) -> TransposeConv16Params:
    """`shapes`: input and output (NHWC); `quant`: input scale, the filter's scales (one, or one per output channel),
    (output scale, zero point); `options`: padding, stride_h, stride_w, activation."""
    (b, ih, iw, ic), (_, oh, ow, oc) = shapes
    sh, sw, pad_h, pad_w = geometry(shapes, filt.shape, options)
    if bias is not None and bias.size != oc:
        raise BadInput(f"TRANSPOSE_CONV: bias has {bias.size} values, expected {oc} (one per output channel)")
    si, scales, (so, zo) = quant
    mult, shift = multipliers("TRANSPOSE_CONV", si, scales, so, oc, acc32=False)
    lo, hi = activation_range_16("TRANSPOSE_CONV", str(options.get("activation", "NONE")), so, zo)
    return TransposeConv16Params(
        b, ih, iw, ic, oh, ow, oc, filt.shape[1], filt.shape[2], sh, sw, pad_h, pad_w, lo, hi,
        np.ascontiguousarray(filt, np.int8),
        None if bias is None else np.ascontiguousarray(bias.reshape(-1), np.int64),
        mult.astype(np.int32), shift.astype(np.int32),
    )  # fmt: skip


def accumulate(p: TransposeConv16Params, x: npt.NDArray[np.int16]) -> I64:
    """The int64 scratch buffer after the scatter: exact sums (each product is below 2^22 in magnitude)."""
    xs = x.reshape(p.batches, p.in_h, p.in_w, p.in_c).astype(np.int64)
    strides, pads = (p.stride_h, p.stride_w), (p.pad_h, p.pad_w)
    return scatter(xs, p.filter.astype(np.int64), strides, pads, (p.out_h, p.out_w))


def reference(p: TransposeConv16Params, x: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    acc = add_bias(accumulate(p, x), p.bias, None, acc32=False)
    out = requantize(acc, p.multiplier, p.shift, acc32=False)
    return np.clip(out, p.act_min, p.act_max).astype(np.int16)


def _bias(ctx: Lowering, op: RawOperator) -> I64 | None:
    if len(op.inputs) < 4 or op.inputs[3] < 0:
        return None
    b = ctx.t(op.inputs[3])
    if not b.is_const or b.data is None or b.dtype not in ("int64", "int16"):
        raise ctx.fail(
            op,
            f"bias {b.describe()} must be a constant int64 (or int16) tensor: TFLM's int16 TRANSPOSE_CONV reads "
            "any other as int64",
        )
    return b.data.astype(np.int64).reshape(-1)  # an int16 bias widened, as TFLM's Eval does


def _output_shape(ctx: Lowering, op: RawOperator) -> Operand:
    """The output_shape operand: a constant (emitted to flash) or an arena tensor; never read, as in TFLM."""
    raw = ctx.t(op.inputs[0])
    if raw.dtype != "int32" or tuple(raw.shape) != (4,):
        raise ctx.fail(op, f"output_shape {raw.describe()}: expected int32[4] (TFLM uses the output tensor's shape)")
    values = ctx.const_values(op, op.inputs[0])
    if values is None:
        t = ctx.act_tensor(op, op.inputs[0], "output_shape", "int32")
        return t.id, t, None
    return "output_shape", Tensor(-1, raw.name, (4,), "int32", 1.0, 0), np.asarray(values).astype(np.int32)


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    if len(op.inputs) not in (3, 4):
        raise ctx.fail(op, f"{len(op.inputs)} inputs: TFLM's TRANSPOSE_CONV takes output_shape, filter, input, bias")
    x = ctx.act_tensor(op, op.inputs[2], "input", "int16")
    y = ctx.act_tensor(op, op.outputs[0], "output", "int16")
    shape_operand = _output_shape(ctx, op)
    f, scales = filter_operand(ctx, op)
    assert f.data is not None
    shapes = (shape4(ctx, op, x, "input"), shape4(ctx, op, y, "output"))
    quant = (x.scale, scales, (y.scale, y.zero_point))
    p = checked(ctx, op, prepare, shapes, f.data.astype(np.int8), _bias(ctx, op), quant, dict(op.options))
    return transpose_conv_layer(op, "transpose_conv_16x8", p, [shape_operand, (x.id, x, None)], x, y)


def scratch_bytes(layer: Layer) -> int:
    """TFLM's int64 scratch buffer: one accumulator per output element."""
    p: TransposeConv16Params = layer.prepared
    return 8 * p.batches * p.out_h * p.out_w * p.out_c


OPERATORS = (
    Operator(
        "transpose_conv_16x8",
        ("TRANSPOSE_CONV",),
        "cosim_transpose_conv_16x8_t",
        "cosim_transpose_conv_16x8",
        "ops/transpose_conv_16x8.h",
        lower,
        lambda layer, xs: reference(layer.prepared, xs[1]),
        scratch=scratch_bytes,
        output_dtype="int16",
    ),
)
