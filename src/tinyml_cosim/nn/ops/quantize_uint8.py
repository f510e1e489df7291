"""QUANTIZE of a uint8 model input to int8, as TFLM's reference Requantize (quantize.cc, uint8 in, int8 out).

Prepare: one multiplier from input scale / output scale in double (QuantizeMultiplier). TFLM's shortcut for equal
scales and zero points 128 apart (x ^ 0x80) gives the same bytes as the general formula, which is what runs here.
Reached from QUANTIZE's lowering in nn/graph.py when the input is uint8 (QUANTIZE of float and of int8 input are
lowered there), so it claims no builtin of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, make_layer
from tinyml_cosim.nn.quant import mbqm, quantize_multiplier
from tinyml_cosim.nn.tflite_reader import RawOperator


@dataclass(frozen=True)
class QuantizeU8Params:
    """cosim_quantize_u8_t"""

    size: int
    input_zp: int
    output_zp: int
    multiplier: int
    shift: int


def prepare(size: int, q_in: tuple[float, int], q_out: tuple[float, int]) -> QuantizeU8Params:
    mult, shift = quantize_multiplier(q_in[0] / q_out[0])
    return QuantizeU8Params(size, q_in[1], q_out[1], mult, shift)


def reference(p: QuantizeU8Params, x: npt.NDArray[np.uint8]) -> npt.NDArray[np.int8]:
    raw = mbqm(x.astype(np.int64) - p.input_zp, p.multiplier, p.shift) + p.output_zp
    return np.clip(raw, -128, 127).astype(np.int8)


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    raw = ctx.t(op.inputs[0])
    if len(raw.scales) != 1 or len(raw.zero_points) != 1:
        raise ctx.fail(op, f"input {raw.describe()} has no per-tensor quantization (scale/zero point)")
    x = ctx.act_tensor(op, op.inputs[0], "input", dtype="uint8")
    y = ctx.act_tensor(op, op.outputs[0], "output")
    if x.elements != y.elements:
        raise ctx.fail(op, f"input has {x.elements} elements, output {y.elements}")
    if x.scale <= 0 or y.scale <= 0:
        raise ctx.fail(op, f"scales {x.scale} / {y.scale}: both must be positive")
    p = prepare(x.elements, (x.scale, x.zero_point), (y.scale, y.zero_point))
    return make_layer(op, "quantize_u8", p, [(x.id, x, None)], y)


OPERATORS = (
    Operator(
        "quantize_u8",
        ("QUANTIZE",),  # the uint8-input variant; the other QUANTIZEs are lowered in nn/graph.py
        "cosim_quantize_u8_t",
        "cosim_quantize_u8_s8",
        "ops/quantize_uint8.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
        input_dtype="uint8",
    ),
)
