"""RSQRT (int8), as TFLM's quantized elementwise Rsqrt (micro/kernels/elementwise.cc).

Prepare: one multiplier, 1 / (sqrtf(input scale) * output scale) (float32, widened to double). Eval, per element:
the offset v = x - zero point becomes a 1/sqrt multiplier and shift (GetInvSqrtQuantizedMultiplierExp), applied to
1 with 20 fractional bits, then requantized by the multiplier with the 20 bits taken back, offset and clamped; v = 0
gives 127. TFLM stops the invoke on an input below the zero point (a negative value); this kernel gives such an input
what v = 1 gives (the helper treats every v <= 1 alike).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer, operands, q
from tinyml_cosim.nn.ops.fixed_math import inv_sqrt_multiplier_exp
from tinyml_cosim.nn.quant import mbqm, quantize_multiplier
from tinyml_cosim.nn.tflite_reader import RawOperator

FRACTION_BITS = 20  # kShift: keeps 1/sqrt(v) an integer between the two multiplications


@dataclass(frozen=True)
class RsqrtParams:
    """cosim_rsqrt_t"""

    size: int
    in_zp: int
    out_zp: int
    out_mult: int
    out_shift: int


def prepare(
    shape: tuple[int, ...], out_shape: tuple[int, ...], q_in: tuple[float, int], q_out: tuple[float, int]
) -> RsqrtParams:
    if tuple(out_shape) != tuple(shape):
        raise BadInput(f"RSQRT: output shape {list(out_shape)} differs from the input's {list(shape)}")
    f = np.float32
    real = 1.0 / float(np.sqrt(f(q_in[0])) * f(q_out[0]))  # std::sqrt(float) * float, then 1. / double
    mult, shift = quantize_multiplier(real)
    if mult == 0:
        raise BadInput(f"RSQRT: output multiplier {real:.6g} underflows: the output scale is far too large")
    return RsqrtParams(int(np.prod(shape)), q_in[1], q_out[1], mult, shift)


def rsqrt_one(p: RsqrtParams, byte: int) -> int:
    v = byte - p.in_zp
    if v == 0:
        return 127  # TFLM: a value next to 0 stands for the largest output
    m, s = inv_sqrt_multiplier_exp(v)
    data = mbqm(1, m, s + FRACTION_BITS)
    return int(np.clip(mbqm(data, p.out_mult, p.out_shift - FRACTION_BITS) + p.out_zp, -128, 127))


def reference(p: RsqrtParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    table = np.array([rsqrt_one(p, b) for b in range(-128, 128)], np.int8)  # a function of the byte alone
    return table[x.astype(np.int64) + 128]


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("input",), constant_ok=False)
    x = ins[0][1]
    y = ctx.act_tensor(op, op.outputs[0], "output")
    p = checked(ctx, op, prepare, x.shape, y.shape, q(x), q(y))
    return make_layer(op, "rsqrt", p, ins, y)


OPERATORS = (
    Operator(
        "rsqrt",
        ("RSQRT",),
        "cosim_rsqrt_t",
        "cosim_rsqrt_s8",
        "ops/rsqrt.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
