"""PRELU (int8, alpha broadcast up to 4-D), as TFLM's reference BroadcastPrelu4DSlow.

Prepare: two multipliers in double, input scale / output scale for x >= zp and input scale * alpha scale / output
scale for x < zp (where the offset input is multiplied by the offset alpha first). alpha must be per-tensor
quantized: TFLM reads a single alpha scale and zero point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import (
    Lowering,
    Operator,
    checked,
    int8_operand,
    make_layer,
    operands,
    q,
)
from tinyml_cosim.nn.ops.sub import broadcast_4d, broadcast_layout
from tinyml_cosim.nn.quant import f32, mbqm, quantize_multiplier
from tinyml_cosim.nn.tflite_reader import RawOperator

OP = "PRELU"


@dataclass(frozen=True)
class PreluParams:
    """cosim_prelu_t: output shape, element strides of input and alpha per output dimension (0 = broadcast)"""

    out_shape: tuple[int, ...]
    in_strides: tuple[int, ...]
    alpha_strides: tuple[int, ...]
    input_offset: int
    alpha_offset: int
    output_offset: int
    mult_pos: int
    shift_pos: int
    mult_neg: int
    shift_neg: int


def prepare(
    shapes: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]],
    q_in: tuple[float, int],
    q_alpha: tuple[list[float], list[int]],
    q_out: tuple[float, int],
) -> PreluParams:
    """`shapes` of input, alpha, output; alpha's quantization as the model lists it (one entry expected)."""
    if len(q_alpha[0]) != 1:
        raise BadInput(f"{OP}: alpha has {len(q_alpha[0])} scales: TFLM's int8 PRELU uses one (per-tensor) scale")
    layout = broadcast_layout(OP, shapes, of="the input's and alpha's")
    s_in, s_alpha, s_out = f32(q_in[0]), f32(q_alpha[0][0]), f32(q_out[0])
    m1 = quantize_multiplier(s_in / s_out)  # double, as TFLM
    m2 = quantize_multiplier(s_in * s_alpha / s_out)
    return PreluParams(
        *layout,
        -q_in[1],
        -q_alpha[1][0],
        q_out[1],
        *m1,
        *m2,
    )


def reference(p: PreluParams, x: npt.NDArray[np.int8], alpha: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    x4, a4 = broadcast_4d(x, p.out_shape), broadcast_4d(alpha, p.out_shape)
    v = x4 + p.input_offset
    pos = mbqm(v, p.mult_pos, p.shift_pos)
    neg = mbqm(v * (a4 + p.alpha_offset), p.mult_neg, p.shift_neg)
    out = np.clip(np.where(v >= 0, pos, neg) + p.output_offset, -128, 127).astype(np.int8)
    return out.reshape(np.broadcast_shapes(x.shape, alpha.shape))


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    x_in = operands(ctx, op, ("input",), constant_ok=False)[0]
    alpha_in = int8_operand(ctx, op, op.inputs[1], "alpha")  # a Keras PReLU's alpha is a constant
    (_, x, _), (_, alpha, _) = x_in, alpha_in
    y = ctx.act_tensor(op, op.outputs[0], "output")
    q_alpha = ([alpha.scale], [alpha.zero_point])
    p = checked(ctx, op, prepare, (x.shape, alpha.shape, y.shape), q(x), q_alpha, q(y))
    return make_layer(op, "prelu", p, [x_in, alpha_in], y)


OPERATORS = (
    Operator(
        "prelu",
        (OP,),
        "cosim_prelu_t",
        "cosim_prelu_s8",
        "ops/prelu.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
