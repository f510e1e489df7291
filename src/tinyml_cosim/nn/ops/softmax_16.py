"""SOFTMAX int16 (the 16x8 path), as TFLM's reference SoftmaxInt16.

Prepare (CalculateSoftmaxParams): zero points 0, output scale 1/32768 (within 0.1%); the input multiplier is
QuantizeMultiplier(input scale * beta / (10 / 65535)) in double, so that a difference from the row's maximum of
[-65535, 0] spans exp's table range [-10, 0]. TFLM builds two 513-entry int16 tables in Prepare (LUTPopulate, in
float32): exp(x) on [-10, 0] and 1 / (1 + x) on [0, 1]; they are computed here the same way and emitted to flash.
Eval, per row: exp of each (x - max) from the first table (interpolated, LUTLookup), their sum normalised by its
leading zeros into the second table for the reciprocal, each exp times that, rounded and clamped to [0, 32767].

SOFTMAX int8 -> int16 (TFLM's reference Softmax<int8_t, int16_t>): the int8 kernel's gemmlowp arithmetic (Q5.26
exp of the rescaled differences, GetReciprocal of their Q12.19 sum), output zero point -32768 and scale 1/65536.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer, q
from tinyml_cosim.nn.ops.fixed_math import reciprocal
from tinyml_cosim.nn.quant import (
    calculate_input_radius,
    exp_on_negative_values,
    f32,
    mbqm,
    mbqm_greater_than_one,
    quantize_multiplier,
    rdbpot,
    srdhm,
    wrap32,
)
from tinyml_cosim.nn.tflite_reader import RawOperator

LUT_STEPS = 512  # 513 entries: the last only gives the slope of the last step
F = np.float32


@dataclass(frozen=True)
class Softmax16Params:
    """cosim_softmax_16_t (less its two tables, emitted beside it)"""

    outer: int
    depth: int
    input_multiplier: int
    input_left_shift: int


def _round(v: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """TfLiteRound on float32: half away from zero (done in double, where |v| + 0.5 is exact)."""
    d = v.astype(np.float64)
    return (np.sign(d) * np.floor(np.abs(d) + 0.5)).astype(np.float32)


def _exp(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """std::exp on float: exp in double, rounded once to float32 (glibc's expf is correctly rounded on these
    points: tests/ops/test_softmax_16.py compares the two)."""
    return np.array([math.exp(float(v)) for v in x], np.float64).astype(np.float32)


def _one_over_one_plus(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return (F(1.0) / (F(1.0) + x)).astype(np.float32)


def lut_populate(input_scale: np.float32, input_zp: int, output_scale: np.float32, func: str) -> npt.NDArray[np.int16]:
    """LUTPopulate<int16_t> (float32 throughout): 512 samples of `func` ("exp" or "reciprocal"), each biased by half
    the error of linear interpolation at the step's midpoint, and the function's value at the end."""
    transform = _exp if func == "exp" else _one_over_one_plus
    input_min = F(input_scale * F(-32768 - input_zp))
    input_max = F(input_scale * F(32767 - input_zp))
    output_min, output_max = F(output_scale * F(-32768)), F(output_scale * F(32767))
    step = F(F(input_max - input_min) / F(LUT_STEPS))
    half_step = F(step / F(2))
    inv = F(F(65536) / F(output_max - output_min))
    i = np.arange(LUT_STEPS, dtype=np.float32)
    at = (input_min + i * step).astype(np.float32)
    val = transform(at)
    mid = transform((at + half_step).astype(np.float32))
    nxt = transform((input_min + (i + F(1)) * step).astype(np.float32))
    sample = _round((val * inv).astype(np.float32))
    interp = _round(((nxt * inv).astype(np.float32) + sample) / F(2))
    err = (interp - _round((mid * inv).astype(np.float32))).astype(np.float32)
    bias = _round((err / F(2)).astype(np.float32))
    last = _round((transform(np.array([input_max], np.float32)) * inv).astype(np.float32))
    return np.clip(np.concatenate([sample - bias, last]), -32768, 32767).astype(np.int16)


@cache
def tables() -> tuple[npt.NDArray[np.int16], npt.NDArray[np.int16]]:
    """(exp on [-10, 0], 1 / (1 + x) on [0, 1]) as TFLM's Prepare builds them for every int16 SOFTMAX."""
    span = F(65535)
    exp_lut = lut_populate(F(F(10) / span), 32767, F(F(2) / span), "exp")
    recip_lut = lut_populate(F(F(1) / span), -32768, F(F(2) / span), "reciprocal")
    exp_lut.setflags(write=False)
    recip_lut.setflags(write=False)
    return exp_lut, recip_lut


def lut_lookup(v: npt.NDArray[np.int64], lut: npt.NDArray[np.int16]) -> npt.NDArray[np.int64]:
    """LUTLookup int16 -> int16: the base at 256 + v >> 7, plus the slope (an int16) times v's low 7 bits, rounded."""
    index = 256 + (v >> 7)
    base = lut[index].astype(np.int64)
    slope = (lut[index + 1].astype(np.int64) - base + 32768) % 65536 - 32768
    return ((base + ((slope * (v & 0x7F) + 64) >> 7) + 32768) % 65536) - 32768


def prepare(shape: tuple[int, ...], q_in: tuple[float, int], q_out: tuple[float, int], beta: float) -> Softmax16Params:
    if not shape:
        raise BadInput("SOFTMAX: a scalar input: TFLM's SOFTMAX needs at least one dimension")
    if q_in[1] != 0 or q_out[1] != 0:
        raise BadInput(f"SOFTMAX: zero points {q_in[1]} -> {q_out[1]}: TFLM's int16 SOFTMAX needs both 0")
    if abs(f32(q_out[0]) - f32(1 / 32768)) > f32(0.001 / 32768):
        raise BadInput(f"SOFTMAX: output scale {q_out[0]:.6g}: TFLM's int16 SOFTMAX needs 1/32768")
    mult, shift = quantize_multiplier(f32(q_in[0]) * f32(beta) / (10.0 / 65535.0))
    if mult == 0 or shift > 30:
        raise BadInput(
            f"SOFTMAX: input scale * beta {q_in[0] * beta:.6g} is out of the range TFLM's int16 SOFTMAX takes"
        )
    depth = int(shape[-1])
    return Softmax16Params(int(np.prod(shape)) // max(depth, 1), depth, mult, shift)


def reference(p: Softmax16Params, x: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    exp_lut, recip_lut = tables()
    rows = x.astype(np.int64).reshape(p.outer, p.depth)
    scaled = mbqm(rows - rows.max(axis=1, keepdims=True), p.input_multiplier, p.input_left_shift)
    exps = lut_lookup(np.clip(scaled + 32767, -32768, 32767), exp_lut)
    sums = exps.sum(axis=1, keepdims=True)
    headroom = np.array([[32 - int(s).bit_length()] for s in sums.reshape(-1)], np.int64)  # CountLeadingZeros
    shifted = ((sums << (headroom - 1)) + (1 << 13)) >> 14
    recip = lut_lookup(np.clip(shifted - (1 << 15) - (1 << 16), -32768, 32767), recip_lut)
    right = 31 - headroom
    out = (exps * recip + (np.int64(1) << (right - 1))) >> right
    return np.clip(out, 0, 32767).astype(np.int16).reshape(x.shape)


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    for index, role in ((op.inputs[0], "input"), (op.outputs[0], "output")):
        if len(ctx.t(index).scales) != 1 or len(ctx.t(index).zero_points) != 1:
            raise ctx.fail(op, f"{role} {ctx.t(index).describe()} has no per-tensor quantization")
    x = ctx.act_tensor(op, op.inputs[0], "input", "int16")
    y = ctx.act_tensor(op, op.outputs[0], "output", "int16")
    if tuple(x.shape) != tuple(y.shape):
        raise ctx.fail(op, f"input shape {list(x.shape)} and output shape {list(y.shape)} differ")
    p = checked(ctx, op, prepare, tuple(x.shape), q(x), q(y), float(op.options.get("beta", 1.0)))
    exp_lut, recip_lut = tables()
    return make_layer(op, "softmax_16", p, [(x.id, x, None)], y, arrays={"exp_lut": exp_lut, "recip_lut": recip_lut})


SCALED_DIFF_INTEGER_BITS = 5  # the int8 input's exp argument: Q5.26
ACCUMULATION_INTEGER_BITS = 12  # its sum: Q12.19


@dataclass(frozen=True)
class Softmax8To16Params:
    """cosim_softmax_8_16_t"""

    outer: int
    depth: int
    input_multiplier: int
    input_left_shift: int
    diff_min: int


def prepare_8_16(
    shape: tuple[int, ...], q_in: tuple[float, int], q_out: tuple[float, int], beta: float
) -> Softmax8To16Params:
    """PreprocessSoftmaxScaling (beta * scale * 2^26, capped at 2^31 - 1) and the input radius, as for int8."""
    if not shape:
        raise BadInput("SOFTMAX: a scalar input: TFLM's SOFTMAX needs at least one dimension")
    if q_out[1] != -32768 or abs(f32(q_out[0]) - f32(1 / 65536)) > f32(0.001 / 65536):
        raise BadInput(
            f"SOFTMAX: output scale {q_out[0]:.6g} and zero point {q_out[1]}: TFLM's int8 -> int16 SOFTMAX needs "
            "1/65536 and -32768"
        )
    real = min(float(f32(beta)) * f32(q_in[0]) * (1 << (31 - SCALED_DIFF_INTEGER_BITS)), (1 << 31) - 1.0)
    if real <= 1.0:  # QuantizeMultiplierGreaterThanOne's check
        raise BadInput(f"SOFTMAX: input scale * beta {q_in[0] * beta:.6g} is too small for TFLM's int8 SOFTMAX")
    mult, left_shift = quantize_multiplier(real)
    diff_min = -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, left_shift)
    depth = int(shape[-1])
    return Softmax8To16Params(int(np.prod(shape)) // max(depth, 1), depth, mult, left_shift, diff_min)


def reference_8_16(p: Softmax8To16Params, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int16]:
    rows = x.astype(np.int64).reshape(p.outer, p.depth)
    diff = rows - rows.max(axis=1, keepdims=True)
    valid = diff >= p.diff_min
    exps = exp_on_negative_values(mbqm_greater_than_one(diff, p.input_multiplier, p.input_left_shift), 5)
    # Rescale<12> of each F0 exp, summed in int32 (wrapping as C does)
    sums = wrap32(np.where(valid, rdbpot(exps, ACCUMULATION_INTEGER_BITS), 0).sum(axis=1))
    scale, bits_over_unit = reciprocal(sums, ACCUMULATION_INTEGER_BITS)
    unsat = rdbpot(srdhm(scale[:, None], exps), (bits_over_unit + 31 - 16)[:, None])
    out = np.where(valid, np.clip(unsat - 32768, -32768, 32767), -32768)
    return out.astype(np.int16).reshape(x.shape)


def lower_8_16(ctx: Lowering, op: RawOperator) -> Layer:
    for index, role in ((op.inputs[0], "input"), (op.outputs[0], "output")):
        if len(ctx.t(index).scales) != 1 or len(ctx.t(index).zero_points) != 1:
            raise ctx.fail(op, f"{role} {ctx.t(index).describe()} has no per-tensor quantization")
    x = ctx.act_tensor(op, op.inputs[0], "input", "int8")
    y = ctx.act_tensor(op, op.outputs[0], "output", "int16")
    if tuple(x.shape) != tuple(y.shape):
        raise ctx.fail(op, f"input shape {list(x.shape)} and output shape {list(y.shape)} differ")
    p = checked(ctx, op, prepare_8_16, tuple(x.shape), q(x), q(y), float(op.options.get("beta", 1.0)))
    return make_layer(op, "softmax_8_16", p, [(x.id, x, None)], y)


OPERATORS = (
    Operator(
        "softmax_16",
        ("SOFTMAX",),
        "cosim_softmax_16_t",
        "cosim_softmax_16",
        "ops/softmax_16.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
        input_dtype="int16",
    ),
    Operator(
        "softmax_8_16",
        ("SOFTMAX",),
        "cosim_softmax_8_16_t",
        "cosim_softmax_8_16",
        "ops/softmax_16.h",
        lower_8_16,
        lambda layer, xs: reference_8_16(layer.prepared, *xs),
        input_dtype="int8",
        output_dtype="int16",
    ),
)
