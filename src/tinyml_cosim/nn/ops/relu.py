"""RELU and RELU6 as standalone int8 operators, as TFLM's reference kernels compute them.

RELU requantizes: output = clamp(zp_out + MultiplyByQuantizedMultiplier(x - zp_in, M, s)) with M from the float32
ratio input scale / output scale, and the lower rail the output zero point (roundf(0 / scale) is 0).
RELU6 does not requantize at all: TFLM clamps the raw input bytes between the input's zero point and 6.0 quantized
with the input's scale, whatever the output tensor's quantization says; the reference follows that.
RELU_N1_TO_1 has no TFLM kernel (the op resolver has no entry for it), so it is refused as such.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer, Tensor
from tinyml_cosim.nn.ops.base import (
    Lowering,
    Operand,
    Operator,
    checked,
    make_layer,
    operands,
)
from tinyml_cosim.nn.quant import f32, mbqm, quantize_multiplier, tflite_round
from tinyml_cosim.nn.tflite_reader import RawOperator

TFLM_HAS_NO_KERNEL = ("RELU_N1_TO_1", "RELU_0_TO_1")


@dataclass(frozen=True)
class ReluParams:
    """cosim_relu_t"""

    size: int
    input_zp: int
    output_zp: int
    multiplier: int
    shift: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class Relu6Params:
    """cosim_relu6_t: bounds in the input's quantized domain"""

    size: int
    lo: int
    hi: int


def check_int8(op: str, in_dtype: str, out_dtype: str) -> None:
    if in_dtype != "int8" or out_dtype != "int8":
        raise BadInput(f"{op}: input {in_dtype} / output {out_dtype}: only int8 in and out is supported here")


def refuse_no_kernel(op: str) -> None:
    if op in TFLM_HAS_NO_KERNEL:
        raise BadInput(f"{op}: TFLM has no kernel for this operator (its op resolver cannot register it)")


def prepare_relu(size: int, s_in: float, zp_in: int, s_out: float, zp_out: int) -> ReluParams:
    if s_in <= 0 or s_out <= 0:
        raise BadInput(f"RELU: scales {s_in} / {s_out}: both must be positive")
    # TFLM divides the two float scales in float, then widens to double.
    mult, shift = quantize_multiplier(f32(f32(s_in) / f32(s_out)))
    return ReluParams(size, zp_in, zp_out, mult, shift, max(-128, zp_out), 127)


def relu_reference(p: ReluParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    raw = p.output_zp + mbqm(x.astype(np.int64) - p.input_zp, p.multiplier, p.shift)
    return np.clip(raw, p.act_min, p.act_max).astype(np.int8)


def prepare_relu6(size: int, s_in: float, zp_in: int) -> Relu6Params:
    if s_in <= 0:
        raise BadInput(f"RELU6: input scale {s_in}: must be positive")
    # FloatToQuantizedType: round(6.0f / scale) in float, plus the zero point, clamped to int8.
    six = tflite_round(f32(np.float32(6.0) / np.float32(s_in))) + zp_in
    return Relu6Params(size, zp_in, max(-128, min(127, six)))


def relu6_reference(p: Relu6Params, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    # val > upper ? upper : val < lower ? lower : val -- the upper test first, which matters when lo > hi.
    v = x.astype(np.int64)
    return np.where(v > p.hi, p.hi, np.where(v < p.lo, p.lo, v)).astype(np.int8)


def _unary(ctx: Lowering, op: RawOperator) -> tuple[list[Operand], Tensor, Tensor]:
    ins = operands(ctx, op, ("input",), constant_ok=False)
    x = ins[0][1]
    y = ctx.act_tensor(op, op.outputs[0], "output")
    if x.elements != y.elements:
        raise ctx.fail(op, f"input has {x.elements} elements, output {y.elements}")
    return ins, x, y


def lower_relu(ctx: Lowering, op: RawOperator) -> Layer:
    ins, x, y = _unary(ctx, op)
    p = checked(ctx, op, prepare_relu, x.elements, x.scale, x.zero_point, y.scale, y.zero_point)
    return make_layer(op, "relu", p, ins, y)


def lower_relu6(ctx: Lowering, op: RawOperator) -> Layer:
    ins, x, y = _unary(ctx, op)
    p = checked(ctx, op, prepare_relu6, x.elements, x.scale, x.zero_point)
    return make_layer(op, "relu6", p, ins, y)


OPERATORS = (
    Operator(
        "relu",
        ("RELU",),
        "cosim_relu_t",
        "cosim_relu_s8",
        "ops/relu.h",
        lower_relu,
        lambda layer, xs: relu_reference(layer.prepared, *xs),
    ),
    Operator(
        "relu6",
        ("RELU6",),
        "cosim_relu6_t",
        "cosim_relu6_s8",
        "ops/relu.h",
        lower_relu6,
        lambda layer, xs: relu6_reference(layer.prepared, *xs),
    ),
)
