"""DIV (int8, up to 4-D broadcasting), as TFLM's reference integer Div (DivElementwise / BroadcastDivSlow).

Prepare: one multiplier, input 1 scale / (input 2 scale * output scale) computed in double. Eval, per
element: both offsets taken off, the signs moved to the dividend, the divisor inverted in fixed point (GetReciprocal:
an F0 multiplier from gemmlowp's Newton-Raphson 1 / (1 + x)), the dividend scaled up by its own headroom
(CountLeadingSignBits) and multiplied by it, then shifted down by the output shift less both exponents, offset and
clamped. A small quotient asks TFLM for a rounding shift of 32 or more, undefined in C++: the golden (TFLM built for
x86) masks the shift count to 5 bits, which turns such quotients into the rails; compiler and kernel do exactly what
it does (on a Cortex-M, TFLM itself would give something else). A zero divisor is undefined in TFLM's source; its
arithmetic (the reciprocal of 0) gives the rails, and so do compiler and kernel, byte for byte with the golden.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer, operands, q
from tinyml_cosim.nn.ops.fixed_math import clrsb32, reciprocal
from tinyml_cosim.nn.ops.sub import ACTIVATIONS, broadcast_4d, broadcast_layout
from tinyml_cosim.nn.quant import activation_range, f32, quantize_multiplier, srdhm, wrap32
from tinyml_cosim.nn.tflite_reader import RawOperator

# |dividend| <= 255 has at least 23 sign bits of headroom and the divisor's exponent is >= -1: an output shift up to
# 22 keeps TFLM's final shift a right shift (a left one would be RoundingDivideByPOT of a negative exponent).
MAX_OUT_SHIFT = 22
# A small quotient makes that right shift 32 or more (up to 8 + 31 - out_shift): see _rdbpot_wide. Below -24 the
# shift would pass 63, where even the 64-bit mask TFLM builds is undefined.
MIN_OUT_SHIFT = -24


@dataclass(frozen=True)
class DivParams:
    """cosim_div_t: output shape, element strides of each input per output dimension (0 = broadcast), quantization"""

    out_shape: tuple[int, ...]
    in1_strides: tuple[int, ...]
    in2_strides: tuple[int, ...]
    in1_offset: int
    in2_offset: int
    out_offset: int
    out_mult: int
    out_shift: int
    act_min: int
    act_max: int


def prepare(
    shapes: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]],
    quant: tuple[tuple[float, int], tuple[float, int], tuple[float, int]],
    activation: str = "NONE",
) -> DivParams:
    """`shapes` and `quant` ((scale, zero point)) of input 1, input 2 and the output."""
    if activation not in ACTIVATIONS:
        raise BadInput(f"DIV: fused_activation_function {activation}: TFLM's int8 DIV takes {', '.join(ACTIVATIONS)}")
    (s1, zp1), (s2, zp2), (so, zpo) = quant
    layout = broadcast_layout("DIV", shapes)
    # in double: the pinned tflite-micro does so (a float32 quotient, as the source of Aug 2026 reads, misses 535
    # of the 65536 byte pairs of a ratio of exactly 10: the exact ties round the other way)
    mult, shift = quantize_multiplier(f32(s1) / (f32(s2) * f32(so)))
    if shift > MAX_OUT_SHIFT:
        raise BadInput(f"DIV: scale ratio {s1 / (s2 * so):.6g} is 2^{MAX_OUT_SHIFT} or more: TFLM's int8 DIV overflows")
    if shift < MIN_OUT_SHIFT:
        raise BadInput(
            f"DIV: scale ratio {s1 / (s2 * so):.6g} is below 2^{MIN_OUT_SHIFT - 1}: TFLM's shifts are undefined"
        )
    lo, hi = activation_range(activation, so, zpo)
    return DivParams(*layout, -zp1, -zp2, zpo, mult, shift, lo, hi)


def _rdbpot_wide(x: npt.NDArray[np.int64], exponent: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """RoundingDivideByPOT as the golden (TFLM built for x86) computes it for exponents up to 63: the mask is
    (1 << exponent) - 1 in 64 bits cut to int32, and the int32 shift count is taken modulo 32 (x86's sar)."""
    mask = wrap32((np.int64(1) << exponent) - 1)
    threshold = (mask >> 1) + (x < 0)
    return (x >> (exponent & 31)) + ((x & mask) > threshold)


def divide(p: DivParams, a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """The int8 quotients of the raw bytes a / b (broadcast against each other)."""
    n = np.asarray(a, np.int64) + p.in1_offset
    d = np.asarray(b, np.int64) + p.in2_offset
    n, d = np.where(d < 0, -n, n), np.abs(d)
    inv, recip_shift = reciprocal(d, 31)
    headroom = clrsb32(n)
    unscaled = srdhm(wrap32(n << headroom), inv)  # MultiplyByQuantizedMultiplierGreaterThanOne
    total_shift = p.out_shift - recip_shift - headroom  # <= 0 (MAX_OUT_SHIFT)
    raw = _rdbpot_wide(srdhm(unscaled, p.out_mult), -total_shift) + p.out_offset
    return np.clip(raw, p.act_min, p.act_max)


def reference(p: DivParams, a: npt.NDArray[np.int8], b: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    a4, b4 = broadcast_4d(a, p.out_shape), broadcast_4d(b, p.out_shape)
    return divide(p, a4, b4).astype(np.int8).reshape(np.broadcast_shapes(a.shape, b.shape))


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("input 1", "input 2"))
    (_, a, _), (_, b, _) = ins
    y = ctx.act_tensor(op, op.outputs[0], "output")
    p = checked(ctx, op, prepare, (a.shape, b.shape, y.shape), (q(a), q(b), q(y)), op.options.get("activation", "NONE"))
    return make_layer(op, "div", p, ins, y)


OPERATORS = (
    Operator(
        "div",
        ("DIV",),
        "cosim_div_t",
        "cosim_div_s8",
        "ops/div.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
