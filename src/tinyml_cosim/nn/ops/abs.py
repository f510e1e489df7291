"""ABS (int8), as TFLM's reference kernel (elementwise.cc).

TFLM takes |x - input zero point| and, when the two float32 scales differ, requantizes it with
MultiplyByQuantizedMultiplier (the multiplier from the float32 ratio input scale / output scale); when they are
equal it adds the output zero point to the magnitude directly (whatever the zero points are). Then it clamps to int8.
NEG is not here: the pinned TFLM runs it for float32 only ("Type INT8 (9) not supported").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer, operands
from tinyml_cosim.nn.quant import f32, mbqm, quantize_multiplier
from tinyml_cosim.nn.tflite_reader import RawOperator


@dataclass(frozen=True)
class AbsParams:
    """cosim_abs_t"""

    size: int
    input_zp: int
    output_zp: int
    rescale: int  # 0: the scales are equal, the magnitude is not multiplied
    multiplier: int
    shift: int


def prepare(size: int, s_in: float, zp_in: int, s_out: float, zp_out: int) -> AbsParams:
    if s_in <= 0 or s_out <= 0:
        raise BadInput(f"ABS: scales {s_in} / {s_out}: both must be positive")
    if f32(s_in) == f32(s_out):  # TFLM compares the float scales
        return AbsParams(size, zp_in, zp_out, 0, 0, 0)
    mult, shift = quantize_multiplier(f32(f32(s_in) / f32(s_out)))  # float division, then widened to double
    return AbsParams(size, zp_in, zp_out, 1, mult, shift)


def reference(p: AbsParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    v = np.abs(x.astype(np.int64) - p.input_zp)
    raw = mbqm(v, p.multiplier, p.shift) if p.rescale else v
    return np.clip(np.asarray(raw, np.int64) + p.output_zp, -128, 127).astype(np.int8)


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("input",), constant_ok=False)
    x = ins[0][1]
    y = ctx.act_tensor(op, op.outputs[0], "output")
    if x.elements != y.elements:
        raise ctx.fail(op, f"input has {x.elements} elements, output {y.elements}")
    p = checked(ctx, op, prepare, x.elements, x.scale, x.zero_point, y.scale, y.zero_point)
    return make_layer(op, "abs", p, ins, y)


OPERATORS = (
    Operator(
        "abs",
        ("ABS",),
        "cosim_abs_t",
        "cosim_abs_s8",
        "ops/abs.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
