"""L2_NORMALIZATION (int8, along the last axis), as TFLM's reference integer L2Normalization.

Per row TFLM sums the squared offsets (x - zero point)^2 in int32, turns the sum into a 1/sqrt multiplier and shift
(GetInvSqrtQuantizedMultiplierExp: Newton-Raphson in fixed point, no float) and scales each offset by it into the
fixed output quantization, scale 1/128 and zero point 0 (the kernel writes that whatever the tensor says, so any
other output quantization is refused rather than misread). A zero row (sum 0 or 1) takes the multiplier of 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer, operands, q
from tinyml_cosim.nn.ops.fixed_math import inv_sqrt_multiplier_exp
from tinyml_cosim.nn.quant import f32, mbqm, wrap32
from tinyml_cosim.nn.tflite_reader import RawOperator

OUTPUT_SCALE_BITS = 7  # the output is x / ||x|| in units of 1/128
MAX_DIMS = 4


@dataclass(frozen=True)
class L2NormParams:
    """cosim_l2norm_t"""

    outer: int
    depth: int
    in_zp: int


def prepare(
    shape: tuple[int, ...], out_shape: tuple[int, ...], q_in: tuple[float, int], q_out: tuple[float, int], act: str
) -> L2NormParams:
    if not 1 <= len(shape) <= MAX_DIMS:
        raise BadInput(f"L2_NORMALIZATION: input rank {len(shape)}: TFLM takes 1-D to {MAX_DIMS}-D")
    if tuple(out_shape) != tuple(shape):
        raise BadInput(f"L2_NORMALIZATION: output shape {list(out_shape)} differs from the input's {list(shape)}")
    if act != "NONE":
        raise BadInput(f"L2_NORMALIZATION: fused_activation_function {act}: TFLM takes only NONE")
    if f32(q_out[0]) != f32(1 / 128) or q_out[1] != 0:
        raise BadInput(
            f"L2_NORMALIZATION: output quantization {q_out}: TFLM's int8 kernel writes scale 1/128, zero point 0"
        )
    depth = shape[-1]
    if depth * 255 * 255 >= 1 << 31:
        raise BadInput(f"L2_NORMALIZATION: depth {depth} overflows TFLM's int32 sum of squares")
    return L2NormParams(int(np.prod(shape[:-1])), depth, q_in[1])


def reference(p: L2NormParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    v = x.reshape(p.outer, p.depth).astype(np.int64) - p.in_zp
    out = np.empty_like(v)
    for r in range(p.outer):
        mult, shift = inv_sqrt_multiplier_exp(int(wrap32(np.sum(v[r] * v[r]))))
        out[r] = mbqm(v[r], mult, shift + OUTPUT_SCALE_BITS)
    return np.clip(out, -128, 127).astype(np.int8).reshape(x.shape)


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("input",), constant_ok=False)
    x = ins[0][1]
    y = ctx.act_tensor(op, op.outputs[0], "output")
    p = checked(ctx, op, prepare, x.shape, y.shape, q(x), q(y), op.options.get("activation", "NONE"))
    return make_layer(op, "l2_normalization", p, ins, y)


OPERATORS = (
    Operator(
        "l2_normalization",
        ("L2_NORMALIZATION",),
        "cosim_l2norm_t",
        "cosim_l2norm_s8",
        "ops/l2_normalization.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
