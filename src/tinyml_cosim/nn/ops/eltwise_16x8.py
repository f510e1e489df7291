"""ADD, SUB and MUL int16 (the 16x8 path), up to 4-D broadcasting, as TFLM's reference kernels compute them.

ADD (CalculateOpDataAdd, reference_ops AddElementwise / BroadcastAdd6DSlow for int16): TFLM-Micro always takes the
general-scale path for int16 (pot_scale false): each input, offset by its zero point, is shifted left by 15 and
scaled by its scale over twice the larger input scale; the sum is requantized by twice the larger input scale over
(2^15 * output scale). Ratios in double from the float32 scales, every multiplier through
QuantizeMultiplierSmallerThanOneExp, which aborts for a ratio of 1 or more: refused here. TFLM checks no zero point
for int16 ADD, so none is refused.
SUB (CalculateOpDataSub, reference_ops Sub / BroadcastQuantSubSlow for int16): ADD's arithmetic with the difference
of the two scaled inputs (the int8 SUB's, with a left shift of 15).
MUL (CalculateOpDataMul, reference_integer_ops MulElementwise / BroadcastMul6DSlow): one multiplier, input 1 scale
times input 2 scale over the output scale, in double; TFLM requires every int16 zero point to be 0.
Fused activations NONE / RELU / RELU6 / RELU_N1_TO_1 as clamps in the int16 range (CalculateActivationRangeQuantized).
Either input may be an int16 constant (emitted to flash and passed to the kernel).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer, Tensor
from tinyml_cosim.nn.ops.base import Lowering, Operand, Operator, checked, make_layer, q
from tinyml_cosim.nn.ops.sub import MAX_DIMS, Shapes3, SubParams, broadcast_layout
from tinyml_cosim.nn.quant import f32, mbqm, quantize_multiplier, tflite_round, wrap32
from tinyml_cosim.nn.tflite_reader import RawOperator

LEFT_SHIFT = 15  # TFLM's int16 ADD (20 for int8)
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
QMIN, QMAX = -32768, 32767
Quant3 = tuple[tuple[float, int], tuple[float, int], tuple[float, int]]


# cosim_eltwise_16x8_t has cosim_sub_t's fields (the int8 SUB's broadcast layout and arithmetic): one dataclass
# for both descriptors. ADD fills every field; MUL leaves the offsets and input multipliers 0.
Eltwise16Params = SubParams


def activation_range_16(op: str, act: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for an int16 output: f / scale in float32, rounded half away from zero."""
    if act not in ACTIVATIONS:
        raise BadInput(f"{op}: fused_activation_function {act}: TFLM's int16 {op} takes {', '.join(ACTIVATIONS)}")

    def quantize(f: float) -> int:
        return zero_point + tflite_round(float(np.float32(f) / np.float32(scale)))

    lo, hi = {"NONE": (None, None), "RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}[act]
    return max(QMIN, quantize(lo)) if lo is not None else QMIN, min(QMAX, quantize(hi)) if hi is not None else QMAX


def _smaller_than_one(op: str, what: str, real: float) -> tuple[int, int]:
    mult, shift = quantize_multiplier(real)
    if not 0.0 < real < 1.0 or shift > 0:
        raise BadInput(
            f"{op}: {what} multiplier {real:.6g}: TFLM's int16 {op} needs it in (0, 1) (scales too far apart)"
        )
    return mult, shift


def _prepare_add_sub(op: str, shapes: Shapes3, quant: Quant3, activation: str) -> Eltwise16Params:
    (s1, zp1), (s2, zp2), (so, zpo) = quant
    act = activation_range_16(op, activation, so, zpo)
    layout = broadcast_layout(op, shapes)
    twice_max = 2.0 * max(f32(s1), f32(s2))
    m1 = _smaller_than_one(op, "input 1", f32(s1) / twice_max)
    m2 = _smaller_than_one(op, "input 2", f32(s2) / twice_max)
    mo = _smaller_than_one(op, "output", twice_max / ((1 << LEFT_SHIFT) * f32(so)))
    return Eltwise16Params(*layout, -zp1, -zp2, zpo, LEFT_SHIFT, *m1, *m2, *mo, *act)


def prepare_add(shapes: Shapes3, quant: Quant3, activation: str = "NONE") -> Eltwise16Params:
    """`shapes` and `quant` ((scale, zero point)) of input 1, input 2 and the output."""
    return _prepare_add_sub("ADD", shapes, quant, activation)


def prepare_sub(shapes: Shapes3, quant: Quant3, activation: str = "NONE") -> Eltwise16Params:
    """As `prepare_add`: TFLM's CalculateOpDataSub is CalculateOpDataAdd's arithmetic."""
    return _prepare_add_sub("SUB", shapes, quant, activation)


def prepare_mul(shapes: Shapes3, quant: Quant3, activation: str = "NONE") -> Eltwise16Params:
    (s1, zp1), (s2, zp2), (so, zpo) = quant
    if (zp1, zp2, zpo) != (0, 0, 0):
        raise BadInput(f"MUL: zero points {zp1}, {zp2} -> {zpo}: TFLM's int16 MUL needs every zero point 0")
    act = activation_range_16("MUL", activation, so, zpo)
    layout = broadcast_layout("MUL", shapes)
    mult, shift = quantize_multiplier(f32(s1) * f32(s2) / f32(so))
    if shift > 30:  # x * (1 << shift) has no int32 value: TFLM's arithmetic is undefined there
        raise BadInput(
            f"MUL: input scales' product over the output scale is {f32(s1) * f32(s2) / f32(so):.6g}, 2^31 or more"
        )
    return Eltwise16Params(*layout, 0, 0, 0, 0, 0, 0, 0, 0, mult, shift, *act)


def _broadcast_4d(x: npt.NDArray[np.int16], out_shape: tuple[int, ...]) -> npt.NDArray[np.int64]:
    return np.broadcast_to(x.reshape((1,) * (MAX_DIMS - x.ndim) + x.shape), out_shape).astype(np.int64)


def _add_sub_reference(
    p: Eltwise16Params, a: npt.NDArray[np.int16], b: npt.NDArray[np.int16], sign: int
) -> npt.NDArray[np.int16]:
    a4, b4 = _broadcast_4d(a, p.out_shape), _broadcast_4d(b, p.out_shape)
    sa = mbqm((a4 + p.in1_offset) << p.left_shift, p.in1_mult, p.in1_shift)
    sb = mbqm((b4 + p.in2_offset) << p.left_shift, p.in2_mult, p.in2_shift)
    raw = mbqm(wrap32(sa + sign * sb), p.out_mult, p.out_shift) + p.out_offset
    return np.clip(raw, p.act_min, p.act_max).astype(np.int16).reshape(np.broadcast_shapes(a.shape, b.shape))


def add_reference(p: Eltwise16Params, a: npt.NDArray[np.int16], b: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    return _add_sub_reference(p, a, b, 1)


def sub_reference(p: Eltwise16Params, a: npt.NDArray[np.int16], b: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    return _add_sub_reference(p, a, b, -1)


def mul_reference(p: Eltwise16Params, a: npt.NDArray[np.int16], b: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    a4, b4 = _broadcast_4d(a, p.out_shape), _broadcast_4d(b, p.out_shape)
    raw = mbqm(a4 * b4, p.out_mult, p.out_shift)
    return np.clip(raw, p.act_min, p.act_max).astype(np.int16).reshape(np.broadcast_shapes(a.shape, b.shape))


def int16_operand(ctx: Lowering, op: RawOperator, index: int, role: str) -> Operand:
    """An int16 operand: an arena tensor, or a constant (emitted to flash as the array `<role>` of the layer)."""
    raw = ctx.t(index)
    if len(raw.scales) != 1 or len(raw.zero_points) != 1:
        raise ctx.fail(op, f"{role} {raw.describe()} has no per-tensor quantization (scale/zero point)")
    if not raw.is_const:
        x = ctx.act_tensor(op, index, role, "int16")
        return x.id, x, None
    if raw.dtype != "int16" or raw.data is None:
        raise ctx.fail(op, f"{role} {raw.describe()} is a {raw.dtype} constant, expected int16")
    quant = Tensor(-1, raw.name, tuple(raw.shape), "int16", raw.scales[0], raw.zero_points[0])
    return role.replace(" ", "_"), quant, raw.data.astype(np.int16)


Prepare = Callable[[Shapes3, Quant3, str], Eltwise16Params]


def _lowering(kind: str, prepare: Prepare) -> Callable[[Lowering, RawOperator], Layer]:
    def lower(ctx: Lowering, op: RawOperator) -> Layer:
        roles = ("input 1", "input 2")
        ins: Sequence[Operand] = [int16_operand(ctx, op, i, r) for i, r in zip(op.inputs, roles, strict=True)]
        if all(v is not None for _, _, v in ins):
            raise ctx.fail(op, "every input is a constant: fold it before conversion (nothing to compute at run time)")
        (_, a, _), (_, b, _) = ins
        y = ctx.act_tensor(op, op.outputs[0], "output", "int16")
        if len(ctx.t(op.outputs[0]).scales) != 1:
            raise ctx.fail(op, f"output {ctx.t(op.outputs[0]).describe()} has no per-tensor quantization")
        shapes = (a.shape, b.shape, y.shape)
        p = checked(ctx, op, prepare, shapes, (q(a), q(b), q(y)), op.options.get("activation", "NONE"))
        return make_layer(op, kind, p, ins, y)

    return lower


OPERATORS = (
    Operator(
        "add_16x8",
        ("ADD",),
        "cosim_eltwise_16x8_t",
        "cosim_add_16x8",
        "ops/eltwise_16x8.h",
        _lowering("add_16x8", prepare_add),
        lambda layer, xs: add_reference(layer.prepared, *xs),
        input_dtype="int16",
    ),
    Operator(
        "sub_16x8",
        ("SUB",),
        "cosim_eltwise_16x8_t",
        "cosim_sub_16x8",
        "ops/eltwise_16x8.h",
        _lowering("sub_16x8", prepare_sub),
        lambda layer, xs: sub_reference(layer.prepared, *xs),
        input_dtype="int16",
    ),
    Operator(
        "mul_16x8",
        ("MUL",),
        "cosim_eltwise_16x8_t",
        "cosim_mul_16x8",
        "ops/eltwise_16x8.h",
        _lowering("mul_16x8", prepare_mul),
        lambda layer, xs: mul_reference(layer.prepared, *xs),
        input_dtype="int16",
    ),
)
