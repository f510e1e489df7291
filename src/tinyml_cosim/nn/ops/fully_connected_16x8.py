"""FULLY_CONNECTED 16x8 (int16 activations, int8 weights, int64 or int32 bias), as TFLM's reference kernels
(reference_integer_ops::FullyConnected / FullyConnectedPerChannel for int16).

TFLM's Prepare (CalculateOpDataFullyConnected): per-channel weights get double(input scale) * double(weight scale) /
double(output scale) per row, per-tensor ones float32(input scale * weight scale) / output scale (as
GetQuantizedConvolutionMultipler), both through QuantizeMultiplier; the fused activation's range in int16. Unlike
the int16 convolutions, FULLY_CONNECTED applies the input and output zero points (TFLM checks neither). The
accumulator is int64 with an int64 bias (64-bit requantization), int32 (wrapping, the int32 one) with an int32 bias
or with none and quantized_bias_type INT32: nn/ops/conv_16x8.py's requantization. The rows are every leading
dimension of the output (keep_num_dims only shapes the output tensor, which is what TFLM reads).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer, Tensor
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer
from tinyml_cosim.nn.ops.conv_16x8 import add_bias, bias_operand, int8_weights, multipliers, requantize
from tinyml_cosim.nn.ops.eltwise_16x8 import activation_range_16
from tinyml_cosim.nn.quant import f32, wrap32
from tinyml_cosim.nn.tflite_reader import RawOperator

OP = "FULLY_CONNECTED"


@dataclass(frozen=True)
class FC16Params:
    """cosim_fc_16x8_t (weights, biases, multipliers and shifts are const arrays in flash)"""

    batches: int  # rows: the output's elements over its last dimension
    in_depth: int
    out_depth: int
    input_offset: int
    output_offset: int
    act_min: int
    act_max: int
    acc32: int  # 1: int32 accumulator and requantization (int32 bias), 0: int64
    filter: npt.NDArray[np.int8]  # [out_depth, in_depth]
    bias: npt.NDArray[np.int64] | None
    bias32: npt.NDArray[np.int32] | None
    multiplier: npt.NDArray[np.int32]  # [out_depth] (a per-tensor multiplier repeated)
    shift: npt.NDArray[np.int32]


def prepare(
    shapes: tuple[tuple[int, ...], tuple[int, ...]],
    weights: npt.NDArray[np.int8],
    biases: tuple[npt.NDArray[np.int64] | None, npt.NDArray[np.int32] | None, bool],
    quant: tuple[tuple[float, int], list[float], tuple[float, int]],
    activation: str = "NONE",
) -> FC16Params:
    """`shapes`: input and output; `biases`: (int64 bias, int32 bias, int32 accumulator); `quant`: (input scale,
    zero point), the weight scales (one, or one per output row), (output scale, zero point)."""
    (x_shape, y_shape), (n, k) = shapes, weights.shape
    x_elems, y_elems = int(np.prod(x_shape)), int(np.prod(y_shape))
    if not y_shape or y_shape[-1] != n:
        raise BadInput(f"{OP}: output {list(y_shape)} must end in the weights' {n} rows")
    batches = y_elems // n
    if x_elems != batches * k:
        raise BadInput(
            f"{OP}: input {list(x_shape)} has {x_elems} elements, the output's {batches} rows need {batches * k}"
        )
    bias, bias32, acc32 = biases
    given = bias if bias is not None else bias32
    if given is not None and given.size != n:
        raise BadInput(f"{OP}: bias has {given.size} values, expected {n} (one per output)")
    (si, zi), scales, (so, zo) = quant
    # per tensor, TFLM multiplies the input and weight scales in float32 before the double division
    mult, shift = (
        multipliers(OP, si, scales, so, n, acc32)
        if len(scales) > 1
        else multipliers(OP, f32(si * scales[0]), [1.0], so, n, acc32)
    )
    lo, hi = activation_range_16(OP, activation, so, zo)
    return FC16Params(
        batches, k, n, -zi, zo, lo, hi, int(acc32),
        np.ascontiguousarray(weights, np.int8),
        None if bias is None else np.ascontiguousarray(bias.reshape(-1), np.int64),
        None if bias32 is None else np.ascontiguousarray(bias32.reshape(-1), np.int32),
        mult.astype(np.int32), shift.astype(np.int32),
    )  # fmt: skip


def reference(p: FC16Params, x: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    xs = x.reshape(p.batches, p.in_depth).astype(np.int64) + p.input_offset
    acc = add_bias(xs @ p.filter.astype(np.int64).T, p.bias, p.bias32, bool(p.acc32))
    out = wrap32(requantize(acc, p.multiplier, p.shift, bool(p.acc32)) + p.output_offset)
    return np.clip(out, p.act_min, p.act_max).astype(np.int16)


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    if len(op.inputs) not in (2, 3):
        raise ctx.fail(op, f"{len(op.inputs)} inputs: TFLM's FULLY_CONNECTED takes input, weights and an optional bias")
    if op.options.get("weights_format", 0) != 0:
        raise ctx.fail(op, "shuffled weights format: TFLM's int16 FULLY_CONNECTED takes the default one only")
    x: Tensor = ctx.act_tensor(op, op.inputs[0], "input", "int16")
    y: Tensor = ctx.act_tensor(op, op.outputs[0], "output", "int16")
    w, scales = int8_weights(ctx, op, op.inputs[1], "weights", 0)
    assert w.data is not None
    if w.data.ndim != 2:
        raise ctx.fail(op, f"weights {w.describe()} are {w.data.ndim}-D, expected [outputs, depth]")
    quant = ((x.scale, x.zero_point), scales, (y.scale, y.zero_point))
    biases = bias_operand(ctx, op, int32_ok=True)
    shapes = (tuple(x.shape), tuple(y.shape))
    activation = str(op.options.get("activation", "NONE"))
    p = checked(ctx, op, prepare, shapes, w.data.astype(np.int8), biases, quant, activation)
    arrays = {"filter": p.filter, "multiplier": p.multiplier, "shift": p.shift}
    arrays.update({k: v for k, v in (("bias", p.bias), ("bias32", p.bias32)) if v is not None})
    layer = make_layer(op, "fc_16x8", p, [(x.id, x, None)], y, arrays=arrays)
    layer.macs = p.batches * p.in_depth * p.out_depth
    layer.params = int(sum(a.size for k, a in arrays.items() if k in ("filter", "bias", "bias32")))
    return layer


OPERATORS = (
    Operator(
        "fc_16x8",
        ("FULLY_CONNECTED",),
        "cosim_fc_16x8_t",
        "cosim_fc_16x8",
        "ops/fully_connected_16x8.h",
        lower,
        lambda layer, xs: reference(layer.prepared, xs[0]),
        input_dtype="int16",
    ),
)
