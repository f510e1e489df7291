"""SQUARED_DIFFERENCE (int8, up to 4-D broadcasting), as TFLM's reference kernel.

Prepare: inputs shifted left by 7 bits and scaled by their scale over twice the larger input scale (all in double
here, unlike SUB's float32), the squared difference requantized by (twice the larger scale)^2 over
(2^14 * output scale) with a general QuantizeMultiplier (it may exceed one). No fused activation: the int8 rails.
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
    make_layer,
    operands,
    q,
)
from tinyml_cosim.nn.ops.sub import broadcast_4d, broadcast_layout
from tinyml_cosim.nn.quant import f32, mbqm, quantize_multiplier, wrap32
from tinyml_cosim.nn.tflite_reader import RawOperator

OP = "SQUARED_DIFFERENCE"
LEFT_SHIFT = 7  # int8; TFLM uses 0 for int16


@dataclass(frozen=True)
class SquaredDifferenceParams:
    """cosim_squared_difference_t (same layout as cosim_sub_t)"""

    out_shape: tuple[int, ...]
    in1_strides: tuple[int, ...]
    in2_strides: tuple[int, ...]
    in1_offset: int
    in2_offset: int
    out_offset: int
    left_shift: int
    in1_mult: int
    in1_shift: int
    in2_mult: int
    in2_shift: int
    out_mult: int
    out_shift: int
    act_min: int
    act_max: int


def _input_multiplier(real: float) -> tuple[int, int]:
    mult, shift = quantize_multiplier(real)
    if not 0.0 < real < 1.0 or shift > 0:  # QuantizeMultiplierSmallerThanOneExp aborts otherwise
        raise BadInput(f"{OP}: input multiplier {real:.6g}: TFLM needs it in (0, 1)")
    return mult, shift


def prepare(
    shapes: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]],
    quant: tuple[tuple[float, int], tuple[float, int], tuple[float, int]],
) -> SquaredDifferenceParams:
    (s1, zp1), (s2, zp2), (so, zpo) = quant
    layout = broadcast_layout(OP, shapes)
    twice_max = 2.0 * max(f32(s1), f32(s2))  # double
    m1 = _input_multiplier(f32(s1) / twice_max)
    m2 = _input_multiplier(f32(s2) / twice_max)
    mo = quantize_multiplier(twice_max * twice_max / f32((1 << (2 * LEFT_SHIFT)) * f32(so)))
    return SquaredDifferenceParams(
        *layout,
        -zp1,
        -zp2,
        zpo,
        LEFT_SHIFT,
        *m1,
        *m2,
        *mo,
        -128,
        127,
    )


def reference(p: SquaredDifferenceParams, a: npt.NDArray[np.int8], b: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    a4, b4 = broadcast_4d(a, p.out_shape), broadcast_4d(b, p.out_shape)
    sa = mbqm((a4 + p.in1_offset) << p.left_shift, p.in1_mult, p.in1_shift)
    sb = mbqm((b4 + p.in2_offset) << p.left_shift, p.in2_mult, p.in2_shift)
    diff = sa - sb  # |diff| < 2^15: its square fits int32
    raw = mbqm(wrap32(diff * diff), p.out_mult, p.out_shift) + p.out_offset
    out = np.clip(raw, p.act_min, p.act_max).astype(np.int8)
    return out.reshape(np.broadcast_shapes(a.shape, b.shape))


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("input 1", "input 2"))
    (_, a, _), (_, b, _) = ins
    y = ctx.act_tensor(op, op.outputs[0], "output")
    p = checked(ctx, op, prepare, (a.shape, b.shape, y.shape), (q(a), q(b), q(y)))
    return make_layer(op, "squared_difference", p, ins, y)


OPERATORS = (
    Operator(
        "squared_difference",
        (OP,),
        "cosim_squared_difference_t",
        "cosim_squared_difference_s8",
        "ops/squared_difference.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
