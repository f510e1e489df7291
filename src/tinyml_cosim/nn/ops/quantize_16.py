"""QUANTIZE and DEQUANTIZE of the 16x8 path, as TFLM's reference quantize / dequantize kernels compute them.

- float32 -> int16 (a 16x8 model's input): AffineQuantize, `x / scale` in float32, rounded half away from zero,
  plus the zero point, clamped to int16.
- int8 -> int16, int16 -> int8, int16 -> int16, and to or from int32 (int8 / int16 -> int32, int32 -> int8 /
  int16, as TFLM's quantize_common.cc pairs them; TFLM's own keyword model ends in int16 -> int32): Requantize,
  (x - input zero point) scaled by one multiplier (QuantizeMultiplier of input scale / output scale in double)
  plus the output zero point, clamped.
- int16 -> float32 (a 16x8 model's output): Dequantize, scale (float32 widened to double) * (x - zero point),
  narrowed to float32.
TFLM's Prepare checks no zero point here (a QUANTIZE may move between asymmetric int8 and symmetric int16), so
none is refused. The int8 forms (float <-> int8, int8 -> int8) stay in nn/graph.py; these are registry variants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer, Tensor
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer
from tinyml_cosim.nn.quant import f32, mbqm, quantize_multiplier, wrap32
from tinyml_cosim.nn.tflite_reader import RawOperator

RANGES = {"int8": (-128, 127), "int16": (-32768, 32767), "int32": (-(2**31), 2**31 - 1)}
# x / scale beyond the int32 range (or NaN) has no int32 value: TFLM's static_cast is undefined there (x86 gives
# INT32_MIN, Arm saturates). The kernels clamp the rounded quotient to +-2^17 first, which any int16 result (zero
# point included) lies within: the same values as TFLM wherever it is defined, saturation beyond, NaN to -32768.
CAST_LIMIT = float(1 << 17)


@dataclass(frozen=True)
class QuantizeF32Params:
    """cosim_quantize_f32_16_t"""

    size: int
    zero_point: int
    scale: float  # float32


@dataclass(frozen=True)
class Requantize16Params:
    """cosim_requantize_16_t"""

    size: int
    input_zp: int
    output_zp: int
    multiplier: int
    shift: int
    out_min: int
    out_max: int


@dataclass(frozen=True)
class Dequantize16Params:
    """cosim_dequantize_16_t"""

    size: int
    zero_point: int
    scale: float  # float32, widened to double by the kernel


def prepare_requantize(
    size: int, q_in: tuple[float, int], q_out: tuple[float, int], out_dtype: str
) -> Requantize16Params:
    mult, shift = quantize_multiplier(float(f32(q_in[0])) / float(f32(q_out[0])))
    if shift > 30:  # x * (1 << shift) has no int32 value for any x: TFLM's arithmetic is undefined there
        raise BadInput(f"QUANTIZE: input scale / output scale {q_in[0] / q_out[0]:.6g} is 2^31 or more")
    return Requantize16Params(size, q_in[1], q_out[1], mult, shift, *RANGES[out_dtype])


def quantize_reference(p: QuantizeF32Params, x: npt.NDArray[np.float32]) -> npt.NDArray[np.int16]:
    q = (x.astype(np.float32) / np.float32(p.scale)).astype(np.float64)  # the division is in float32, as in TFLM
    r = np.sign(q) * np.floor(np.abs(q) + 0.5)  # std::round: half away from zero
    r = np.where(np.isnan(r), -CAST_LIMIT, np.clip(r, -CAST_LIMIT, CAST_LIMIT))
    return np.clip(r.astype(np.int64) + p.zero_point, -32768, 32767).astype(np.int16)


def requantize_reference(p: Requantize16Params, x: npt.NDArray[np.integer]) -> npt.NDArray[np.integer]:
    # x - zero point wraps in int32 as TFLM's int32 arithmetic does where it is defined (an int32 input)
    raw = mbqm(wrap32(x.astype(np.int64) - p.input_zp), p.multiplier, p.shift) + p.output_zp
    dtype = {127: np.int8, 32767: np.int16}.get(p.out_max, np.int32)
    return np.clip(raw, p.out_min, p.out_max).astype(dtype)


def dequantize_reference(p: Dequantize16Params, x: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
    return (np.float64(p.scale) * (x.astype(np.int64) - p.zero_point)).astype(np.float32)


def _io(ctx: Lowering, op: RawOperator, in_dtype: str, out_dtype: str) -> tuple[Tensor, Tensor]:
    for index, role, dtype in ((op.inputs[0], "input", in_dtype), (op.outputs[0], "output", out_dtype)):
        raw = ctx.t(index)
        if dtype != "float32" and (len(raw.scales) != 1 or len(raw.zero_points) != 1):
            raise ctx.fail(op, f"{role} {raw.describe()} has no per-tensor quantization (TFLM's QUANTIZE needs one)")
    x = ctx.act_tensor(op, op.inputs[0], "input", in_dtype)
    y = ctx.act_tensor(op, op.outputs[0], "output", out_dtype)
    if x.elements != y.elements:
        raise ctx.fail(op, f"input has {x.elements} elements, output {y.elements}")
    for t in (x, y):
        if t.dtype != "float32" and t.scale <= 0:
            raise ctx.fail(op, f"'{t.name}' has scale {t.scale}: a scale must be positive")
    return x, y


def _lower_quantize_f32(ctx: Lowering, op: RawOperator) -> Layer:
    x, y = _io(ctx, op, "float32", "int16")
    return make_layer(
        op, "quantize_f32_16", QuantizeF32Params(y.elements, y.zero_point, f32(y.scale)), [(x.id, x, None)], y
    )


def _requantizer(kind: str, in_dtype: str, out_dtype: str) -> Operator:
    def lower(ctx: Lowering, op: RawOperator) -> Layer:
        x, y = _io(ctx, op, in_dtype, out_dtype)
        p = checked(
            ctx, op, prepare_requantize, x.elements, (x.scale, x.zero_point), (y.scale, y.zero_point), out_dtype
        )
        return make_layer(op, kind, p, [(x.id, x, None)], y)

    letters = {"int8": "s8", "int16": "s16", "int32": "s32"}
    return Operator(
        kind,
        ("QUANTIZE",),
        "cosim_requantize_16_t",
        f"cosim_requantize_{letters[in_dtype]}_{letters[out_dtype]}",
        "ops/quantize_16.h",
        lower,
        lambda layer, xs: requantize_reference(layer.prepared, *xs),
        input_dtype=in_dtype,
        output_dtype=out_dtype,
    )


def _lower_dequantize(ctx: Lowering, op: RawOperator) -> Layer:
    x, y = _io(ctx, op, "int16", "float32")
    return make_layer(
        op, "dequantize_16", Dequantize16Params(x.elements, x.zero_point, f32(x.scale)), [(x.id, x, None)], y
    )


OPERATORS = (
    Operator(
        "quantize_f32_16",
        ("QUANTIZE",),
        "cosim_quantize_f32_16_t",
        "cosim_quantize_f32_s16",
        "ops/quantize_16.h",
        _lower_quantize_f32,
        lambda layer, xs: quantize_reference(layer.prepared, *xs),
        input_dtype="float32",
        output_dtype="int16",
    ),
    _requantizer("requantize_8_16", "int8", "int16"),
    _requantizer("requantize_16_8", "int16", "int8"),
    _requantizer("requantize_16_16", "int16", "int16"),
    _requantizer("requantize_8_32", "int8", "int32"),
    _requantizer("requantize_16_32", "int16", "int32"),
    _requantizer("requantize_32_8", "int32", "int8"),
    _requantizer("requantize_32_16", "int32", "int16"),
    Operator(
        "dequantize_16",
        ("DEQUANTIZE",),
        "cosim_dequantize_16_t",
        "cosim_dequantize_s16_f32",
        "ops/quantize_16.h",
        _lower_dequantize,
        lambda layer, xs: dequantize_reference(layer.prepared, *xs),
        input_dtype="int16",
        output_dtype="float32",
    ),
)
