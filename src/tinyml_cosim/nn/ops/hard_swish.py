"""HARD_SWISH (int8), as TFLM's reference kernel: 16-bit fixed point throughout.

Prepare: the input on a "hi-res" scale (input scale / 128, in float32), an output multiplier hires / output scale and
a "relu-ish" multiplier hires / (3 / 32768), each QuantizeMultiplier'd to Q31 and rounded down to Q15
(DownScaleInt32ToInt16Multiplier). TFLM refuses an output multiplier exponent above 0 (output scale too small).
Eval mixes gemmlowp's int16 SaturatingRoundingDoublingHighMul, a truncating SaturatingDoublingHighMul, saturating
int16 left shifts and int16 RoundingDivideByPOT; the int16 wrap of `output + zero point` is TFLM's and kept.
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
from tinyml_cosim.nn.quant import f32, quantize_multiplier
from tinyml_cosim.nn.tflite_reader import RawOperator

I64 = npt.NDArray[np.int64]
INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


@dataclass(frozen=True)
class HardSwishParams:
    """cosim_hard_swish_t"""

    size: int
    input_zp: int
    output_zp: int
    output_mult16: int
    output_exponent: int
    reluish_mult16: int
    reluish_exponent: int


def downscale_to_int16(m32: int) -> int:
    """DownScaleInt32ToInt16Multiplier: Q31 to Q15, rounding, saturating just below 2^31."""
    if m32 >= INT32_MAX_MINUS_ROUNDING:
        return INT16_MAX
    return (m32 + (1 << 15)) >> 16


INT32_MAX_MINUS_ROUNDING = (1 << 31) - 1 - (1 << 15)


def prepare(size: int, q_in: tuple[float, int], q_out: tuple[float, int]) -> HardSwishParams:
    s_in, s_out = f32(q_in[0]), f32(q_out[0])
    if s_in <= 0 or s_out <= 0:
        raise BadInput(f"HARD_SWISH: scales {s_in} / {s_out}: both must be positive")
    hires = f32(np.float32(1.0 / 128.0) * np.float32(s_in))
    reluish_scale = np.float32(3.0) / np.float32(32768.0)
    out_m, out_e = quantize_multiplier(f32(np.float32(hires) / np.float32(s_out)))
    if out_e > 0:
        raise BadInput(
            f"HARD_SWISH: output scale {s_out:.6g} is below input scale / 128 ({hires:.6g}): TFLM refuses it"
        )
    rel_m, rel_e = quantize_multiplier(f32(np.float32(hires) / reluish_scale))
    return HardSwishParams(size, q_in[1], q_out[1], downscale_to_int16(out_m), out_e, downscale_to_int16(rel_m), rel_e)


def wrap16(x: npt.ArrayLike) -> I64:
    a = np.asarray(x, dtype=np.int64)
    return ((a + (1 << 15)) & 0xFFFF) - (1 << 15)


def srdhm16(a: I64, b: int) -> I64:
    """gemmlowp SaturatingRoundingDoublingHighMul on int16."""
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    s = ab + nudge
    q = np.where(s < 0, -((-s) // (1 << 15)), s // (1 << 15))  # C division truncates
    return np.where((a == INT16_MIN) & (b == INT16_MIN), INT16_MAX, wrap16(q))


def sdhm16(a: I64, b: I64) -> I64:
    """SaturatingDoublingHighMul on int16: like the above but truncating, no nudge."""
    ab = a * b
    q = np.where(ab < 0, -((-ab) // (1 << 15)), ab // (1 << 15))
    return np.where((a == INT16_MIN) & (b == INT16_MIN), INT16_MAX, wrap16(q))


def sat_shl16(x: I64, amount: int) -> I64:
    return np.clip(x * (1 << amount), INT16_MIN, INT16_MAX)


def rdbpot16(x: I64, exponent: int) -> I64:
    """gemmlowp RoundingDivideByPOT on int16 (the mask is an int16, as in the template)."""
    mask = int(wrap16((1 << exponent) - 1))
    remainder = wrap16(x & mask)
    threshold = (mask >> 1) + (x < 0)
    return wrap16((x >> exponent) + (remainder > threshold))


def reference(p: HardSwishParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    v = wrap16(x.astype(np.int64) - p.input_zp)
    hires = wrap16(v * (1 << 7))
    preshift_out = srdhm16(hires, p.output_mult16)
    rel = hires
    if p.reluish_exponent > 0:
        rel = sat_shl16(rel, p.reluish_exponent - 1)
    rel = srdhm16(rel, p.reluish_mult16)
    if p.reluish_exponent > 0:
        rel = sat_shl16(rel, 1)
    if p.reluish_exponent < 0:
        rel = rdbpot16(rel, -p.reluish_exponent)
    rel = wrap16((rel + (1 << 15)) >> 1)
    out = rdbpot16(sdhm16(rel, preshift_out), -p.output_exponent)
    out = wrap16(out + p.output_zp)
    return np.clip(out, -128, 127).astype(np.int8)


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("input",), constant_ok=False)
    x = ins[0][1]
    y = ctx.act_tensor(op, op.outputs[0], "output")
    if x.elements != y.elements:
        raise ctx.fail(op, f"input has {x.elements} elements, output {y.elements}")
    p = checked(ctx, op, prepare, x.elements, q(x), q(y))
    return make_layer(op, "hard_swish", p, ins, y)


OPERATORS = (
    Operator(
        "hard_swish",
        ("HARD_SWISH",),
        "cosim_hard_swish_t",
        "cosim_hard_swish_s8",
        "ops/hard_swish.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
