"""LOG_SOFTMAX (int8, along the last axis), as TFLM's reference LogSoftmaxQuantized.

Prepare (PreprocessLogSoftmaxScalingExp, beta 1): the input scale times 2^26 (capped at 2^31 - 1) is the multiplier
that turns a byte difference from the row maximum into an F5 value; its inverse (a multiplier below one) maps the
row's log-sum back to byte differences; diff_min = -CalculateInputRadius(5, left shift). Eval: the row's sum of
exp in F12 (differences below diff_min left out), its log in F5, then each difference above the adjusted diff_min
less that log, from F5 into the fixed output quantization 16/256 and zero point 127 (TFLM checks both).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer, operands, q
from tinyml_cosim.nn.ops.fixed_math import log_x_ge_1
from tinyml_cosim.nn.quant import (
    INT32_MIN,
    calculate_input_radius,
    exp_on_negative_values,
    f32,
    mbqm,
    quantize_multiplier,
    rdbpot,
    wrap32,
)
from tinyml_cosim.nn.tflite_reader import RawOperator

DIFF_BITS = 5  # differences in F5: exp(-16) is negligible
OUTPUT_SCALE, OUTPUT_ZP = 16 / 256, 127


@dataclass(frozen=True)
class LogSoftmaxParams:
    """cosim_log_softmax_t"""

    outer: int
    depth: int
    input_multiplier: int
    input_left_shift: int
    reverse_divisor: int
    reverse_shift: int  # a left shift (<= 0)
    diff_min: int


def prepare(
    shape: tuple[int, ...], out_shape: tuple[int, ...], in_scale: float, q_out: tuple[float, int]
) -> LogSoftmaxParams:
    if not shape:
        raise BadInput("LOG_SOFTMAX: a scalar input: TFLM needs at least one dimension")
    if tuple(out_shape) != tuple(shape):
        raise BadInput(f"LOG_SOFTMAX: output shape {list(out_shape)} differs from the input's {list(shape)}")
    if f32(q_out[0]) != f32(OUTPUT_SCALE) or q_out[1] != OUTPUT_ZP:
        raise BadInput(
            f"LOG_SOFTMAX: output quantization {q_out}: TFLM's int8 kernel needs scale 16/256, zero point 127"
        )
    real = min(float(in_scale) * (1 << (31 - DIFF_BITS)), (1 << 31) - 1.0)
    mult, left_shift = quantize_multiplier(real)
    reverse = (1 << (31 - left_shift)) / mult if 0 < left_shift < 32 else math.inf
    rmult, rshift = quantize_multiplier(reverse) if reverse < 1.0 else (0, 1)
    if not 0.0 < reverse < 1.0 or rshift > 0:
        raise BadInput(f"LOG_SOFTMAX: input scale {in_scale:.6g}: TFLM's int8 LOG_SOFTMAX needs it above 2^-26")
    diff_min = -calculate_input_radius(DIFF_BITS, left_shift)
    return LogSoftmaxParams(int(np.prod(shape[:-1])), shape[-1], mult, left_shift, rmult, rshift, diff_min)


def reference(p: LogSoftmaxParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    v = x.reshape(p.outer, p.depth).astype(np.int64)
    diff = v - v.max(axis=1, keepdims=True)
    scaled = mbqm(diff, p.input_multiplier, p.input_left_shift)  # F5
    exps = np.where(diff >= p.diff_min, rdbpot(exp_on_negative_values(scaled, DIFF_BITS), 12), 0)  # F12
    log_sum = log_x_ge_1(wrap32(exps.sum(axis=1)), 12, DIFF_BITS)[:, None]  # F5
    limit = mbqm(wrap32(log_sum + INT32_MIN), p.reverse_divisor, p.reverse_shift)
    adjusted = np.maximum(p.diff_min - 1, limit)
    out = rdbpot(wrap32(scaled - log_sum), 31 - DIFF_BITS - 4) + 127  # F5 -> 16/256 units
    out = np.where(diff > adjusted, np.clip(out, -128, 127), -128)
    return out.astype(np.int8).reshape(x.shape)


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("input",), constant_ok=False)
    x = ins[0][1]
    y = ctx.act_tensor(op, op.outputs[0], "output")
    p = checked(ctx, op, prepare, x.shape, y.shape, x.scale, q(y))
    return make_layer(op, "log_softmax", p, ins, y)


OPERATORS = (
    Operator(
        "log_softmax",
        ("LOG_SOFTMAX",),
        "cosim_log_softmax_t",
        "cosim_log_softmax_s8",
        "ops/log_softmax.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
