"""LOGISTIC and TANH int16 (the 16x8 path), as TFLM's reference integer Logistic / Tanh for int16.

Prepare (CalculateArithmeticOpDataLogistic, tanh.cc CalculateArithmeticOpData): zero points must be 0 and the
output scale 2^-15 (CheckedLog2 in float32, within 1e-3 of an integer). A power-of-two input scale of 2^-12 (the
logistic) or 2^-12 / 2^-11 (the tanh) takes the multiplier 3 << shift with no shift; any other input scale becomes
the integer multiplier scale * 3 * 4096 doubled (with the shift counted) while it stays at or below 32767 / 2.
Eval: x * multiplier, rounded right by the shift, into the 256-entry sigmoid table's interpolation (nn/ops/sigmoid16.py,
firmware/nn/ref/sigmoid16.c, shared with the LSTM's gates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer, q
from tinyml_cosim.nn.ops.sigmoid16 import sigmoid16_lut, tanh16_lut
from tinyml_cosim.nn.tflite_reader import RawOperator

INPUT_INTEGER_BITS = 3
OUTPUT_FRACTIONAL_BITS = 15


@dataclass(frozen=True)
class Sigmoid16Params:
    """cosim_sigmoid_16_t: the multiplier and right shift bringing an input to the table's scale"""

    size: int
    input_multiplier: int
    input_left_shift: int  # TFLM's name: the shift is to the right


def checked_log2(x: float) -> tuple[int, bool]:
    """CheckedLog2: round(log2 x) and whether x is within 1e-3 (in log2) of that power of two, in float32."""
    x_log2 = np.float32(np.log(np.float32(x))) * (np.float32(1.0) / np.float32(np.log(np.float32(2.0))))
    rounded = np.float32(math.copysign(math.floor(abs(float(x_log2)) + 0.5), float(x_log2)))
    return int(rounded), bool(abs(np.float32(x_log2 - rounded)) < np.float32(1e-3))


def prepare(op: str, size: int, q_in: tuple[float, int], q_out: tuple[float, int]) -> Sigmoid16Params:
    """`op` LOGISTIC or TANH; (scale, zero point) of the input and the output."""
    if q_in[1] != 0 or q_out[1] != 0:
        raise BadInput(f"{op}: zero points {q_in[1]} -> {q_out[1]}: TFLM's int16 {op} needs both 0")
    out_log2, out_pot = checked_log2(q_out[0])
    if not out_pot or out_log2 != -OUTPUT_FRACTIONAL_BITS:
        raise BadInput(f"{op}: output scale {q_out[0]:.6g}: TFLM's int16 {op} needs 2^-15 (1/32768)")
    in_log2, pot = checked_log2(q_in[0])
    shift = (15 - INPUT_INTEGER_BITS) + in_log2
    if pot and (shift == 0 or (op == "TANH" and shift == 1)):
        return Sigmoid16Params(size, 3 << shift, 0)  # the kernels' power-of-two case, resolved here
    multiplier, shift = float(q_in[0]) * 4096.0 * 3.0, 0  # the float32 scale in double, as TFLM
    while multiplier <= 32767.0 / 2.0 and shift <= 30:
        shift += 1
        multiplier *= 2.0
    if not 0 < int(multiplier) <= 32767:
        what = "too large (above 2.67)" if multiplier > 32767 else "too small"
        raise BadInput(
            f"{op}: input scale {q_in[0]:.6g} is {what} for TFLM's int16 {op} (multiplier {int(multiplier)})"
        )
    return Sigmoid16Params(size, int(multiplier), shift)


def reference(kind: str, p: Sigmoid16Params, x: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    rnd = (1 << (p.input_left_shift - 1)) if p.input_left_shift > 0 else 0
    v = (x.astype(np.int64) * p.input_multiplier + rnd) >> p.input_left_shift
    return (sigmoid16_lut(v) if kind == "logistic_16" else tanh16_lut(v)).astype(np.int16)


def _operator(kind: str, builtin: str, cfunc: str) -> Operator:
    def lower(ctx: Lowering, op: RawOperator) -> Layer:
        for index, role in ((op.inputs[0], "input"), (op.outputs[0], "output")):
            if len(ctx.t(index).scales) != 1 or len(ctx.t(index).zero_points) != 1:
                raise ctx.fail(op, f"{role} {ctx.t(index).describe()} has no per-tensor quantization")
        x = ctx.act_tensor(op, op.inputs[0], "input", "int16")
        y = ctx.act_tensor(op, op.outputs[0], "output", "int16")
        if x.elements != y.elements:
            raise ctx.fail(op, f"input has {x.elements} elements, output {y.elements}")
        p = checked(ctx, op, prepare, builtin, x.elements, q(x), q(y))
        return make_layer(op, kind, p, [(x.id, x, None)], y)

    return Operator(
        kind,
        (builtin,),
        "cosim_sigmoid_16_t",
        cfunc,
        "ops/activations_16.h",
        lower,
        lambda layer, xs: reference(kind, layer.prepared, *xs),
        input_dtype="int16",
    )


OPERATORS = (
    _operator("logistic_16", "LOGISTIC", "cosim_logistic_16"),
    _operator("tanh_16", "TANH", "cosim_tanh_16"),
)
