"""QUANTIZE of a uint8 model input to int8, and of an int8 tensor to a uint8 output (a model that gives uint8 scores:
ST's model zoo), as TFLM's reference Requantize (quantize.cc, uint8 <-> int8).

Prepare: one multiplier from input scale / output scale in double (QuantizeMultiplier). TFLM's shortcut for equal
scales and zero points 128 apart (x ^ 0x80) gives the same bytes as the general formula, which is what runs here.
Both are variants of QUANTIZE for these types (QUANTIZE of float, int8 to int8 and the int16 and int32 forms are lowered
elsewhere), so they claim no builtin of their own.
"""

from __future__ import annotations

from collections.abc import Callable
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


def reference(p: QuantizeU8Params, x: npt.NDArray[np.integer]) -> npt.NDArray[np.integer]:
    raw = mbqm(x.astype(np.int64) - p.input_zp, p.multiplier, p.shift) + p.output_zp
    out = np.uint8 if x.dtype == np.int8 else np.int8
    return np.clip(raw, np.iinfo(out).min, np.iinfo(out).max).astype(out)


def _lowering(kind: str, in_dtype: str, out_dtype: str) -> Callable[[Lowering, RawOperator], Layer]:
    def lower(ctx: Lowering, op: RawOperator) -> Layer:
        raw = ctx.t(op.inputs[0])
        if len(raw.scales) != 1 or len(raw.zero_points) != 1:
            raise ctx.fail(op, f"input {raw.describe()} has no per-tensor quantization (scale/zero point)")
        x = ctx.act_tensor(op, op.inputs[0], "input", dtype=in_dtype)
        y = ctx.act_tensor(op, op.outputs[0], "output", dtype=out_dtype)
        if x.elements != y.elements:
            raise ctx.fail(op, f"input has {x.elements} elements, output {y.elements}")
        if x.scale <= 0 or y.scale <= 0:
            raise ctx.fail(op, f"scales {x.scale} / {y.scale}: both must be positive")
        p = prepare(x.elements, (x.scale, x.zero_point), (y.scale, y.zero_point))
        return make_layer(op, kind, p, [(x.id, x, None)], y)

    return lower


OPERATORS = (
    Operator(
        "quantize_u8",
        ("QUANTIZE",),
        "cosim_quantize_u8_t",
        "cosim_quantize_u8_s8",
        "ops/quantize_uint8.h",
        _lowering("quantize_u8", "uint8", "int8"),
        lambda layer, xs: reference(layer.prepared, *xs),
        input_dtype="uint8",
    ),
    Operator(
        "quantize_s8_u8",
        ("QUANTIZE",),
        "cosim_quantize_u8_t",
        "cosim_quantize_s8_u8",
        "ops/quantize_uint8.h",
        _lowering("quantize_s8_u8", "int8", "uint8"),
        lambda layer, xs: reference(layer.prepared, *xs),
        input_dtype="int8",
        output_dtype="uint8",
    ),
)
