"""LEAKY_RELU int8 and int16 (any alpha, negative or above 1 too), as TFLM's reference kernel (one template: the
int16 form differs only in its clamp).

Prepare: two multipliers, input scale * alpha / output scale and input scale / output scale. The pinned tflite-micro
computes both ratios in double: float32 ratios differ at rounding ties (seen with power-of-two scales and alpha 0.1;
tests/test_models_leaky_relu.py tells them apart). A negative alpha gives a negative multiplier: the kernel scales by
its magnitude and negates, as the rounding multiply needs a non-negative multiplier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, make_layer
from tinyml_cosim.nn.quant import f32, mbqm, quantize_multiplier
from tinyml_cosim.nn.tflite_reader import RawOperator


@dataclass(frozen=True)
class LeakyReluParams:
    """cosim_leaky_relu_t"""

    size: int
    input_zp: int
    output_zp: int
    alpha_mult: int
    alpha_shift: int
    identity_mult: int
    identity_shift: int


def prepare(size: int, q_in: tuple[float, int], q_out: tuple[float, int], alpha: float) -> LeakyReluParams:
    am, ash = quantize_multiplier(q_in[0] * f32(alpha) / q_out[0])
    im, ish = quantize_multiplier(q_in[0] / q_out[0])
    return LeakyReluParams(size, q_in[1], q_out[1], am, ash, im, ish)


def reference(p: LeakyReluParams, x: npt.NDArray[np.integer]) -> npt.NDArray[np.integer]:
    v = x.astype(np.int64) - p.input_zp
    scaled = mbqm(v, abs(p.alpha_mult), p.alpha_shift)
    below = -scaled if p.alpha_mult < 0 else scaled
    out = p.output_zp + np.where(v >= 0, mbqm(v, p.identity_mult, p.identity_shift), below)
    info = np.iinfo(x.dtype)
    return np.clip(out, info.min, info.max).astype(x.dtype)


def _lowering(kind: str, dtype: str) -> Callable[[Lowering, RawOperator], Layer]:
    def lower(ctx: Lowering, op: RawOperator) -> Layer:
        x = ctx.act_tensor(op, op.inputs[0], "input", dtype)
        y = ctx.act_tensor(op, op.outputs[0], "output", dtype)
        if x.elements != y.elements:
            raise ctx.fail(op, f"input has {x.elements} elements, output {y.elements}")
        p = prepare(x.elements, (x.scale, x.zero_point), (y.scale, y.zero_point), op.options.get("alpha", 0.2))
        return make_layer(op, kind, p, [(x.id, x, None)], y)

    return lower


OPERATORS = (
    Operator(
        "leaky_relu",
        ("LEAKY_RELU",),
        "cosim_leaky_relu_t",
        "cosim_leaky_relu_s8",
        "ops/leaky_relu.h",
        _lowering("leaky_relu", "int8"),
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
    Operator(  # the int16 activations of a 16x8 model (SEANet)
        "leaky_relu_s16",
        ("LEAKY_RELU",),
        "cosim_leaky_relu_t",
        "cosim_leaky_relu_s16",
        "ops/leaky_relu.h",
        _lowering("leaky_relu_s16", "int16"),
        lambda layer, xs: reference(layer.prepared, *xs),
        input_dtype="int16",
    ),
)
