"""Data movement of 32-bit integer tensors, as TFLM's reference kernels (one template over the element type):
CAST to and from uint32, STRIDED_SLICE and CONCATENATION of int32 (any input may be a constant, emitted to flash;
TFLM has neither for uint32: refused as such). The Signal library's front ends use them between their uint32
operators (micro_speech's audio preprocessor: CAST uint32 -> int32, STRIDED_SLICE, CONCATENATION with constant
zeros, CAST int32 -> uint32).

CAST: TFLM's static_cast, so uint32 and int32 share their bits, a narrowing keeps the low bits and a widening of
int8 / int16 to uint32 sign-extends (modulo 2^32): the int8 / int16 / int32 CAST kernel (ops/cast.h) with uint32 as
32 bits. STRIDED_SLICE: the int8 one's Prepare (nn/ops/strided_slice.py), a 32-bit walk. CONCATENATION: quantization
is ignored for int32 (TFLM copies the values), up to MAX_INPUTS inputs (one kernel per input count: a
kernel's parameters are its operands). CAST int32 -> int8 to an unquantized int8 (TFLM never reads a CAST's
quantization) is the CAST kernel too, the int8 taken as scale 1, zero point 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops import cast, strided_slice
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer
from tinyml_cosim.nn.ops.eltwise_int32 import int32_operand
from tinyml_cosim.nn.ops.slice import constant_ints
from tinyml_cosim.nn.tflite_reader import RawOperator

CAST_BITS = {"int8": 8, "int16": 16, "int32": 32, "uint32": 32}
MAX_INPUTS = 6


def lower_cast(ctx: Lowering, op: RawOperator) -> Layer:
    raw_in, raw_out = ctx.t(op.inputs[0]), ctx.t(op.outputs[0])
    for role, dt in (("input", raw_in.dtype), ("output", raw_out.dtype)):
        if dt not in CAST_BITS:
            raise ctx.fail(op, f"{role} type {dt}: CAST with uint32 is compiled from / to {', '.join(CAST_BITS)}")
    x = ctx.act_tensor(op, op.inputs[0], "input", raw_in.dtype)
    y = ctx.act_tensor(op, op.outputs[0], "output", raw_out.dtype)
    if x.elements != y.elements:
        raise ctx.fail(op, f"input has {x.elements} elements, output {y.elements}")
    p = cast.CastParams(x.elements, CAST_BITS[raw_in.dtype], CAST_BITS[raw_out.dtype], raw_out.dtype)
    return make_layer(op, "cast_u32", p, [(x.id, x, None)], y, skip=("out_dtype",))


def lower_cast_to_int8(ctx: Lowering, op: RawOperator) -> Layer:
    """CAST int32 -> int8 whose int8 output has no quantization (micro_speech's features, the model's output): TFLM
    casts the values and never reads a scale, so the output is the integers themselves, scale 1 and zero point 0."""
    raw_out = ctx.t(op.outputs[0])
    if not raw_out.scales and not raw_out.zero_points:
        raw_out.scales, raw_out.zero_points = [1.0], [0]
    return cast.lower(ctx, op)


def lower_strided_slice(ctx: Lowering, op: RawOperator) -> Layer:
    x = ctx.act_tensor(op, op.inputs[0], "input", "int32")
    y = ctx.act_tensor(op, op.outputs[0], "output", "int32")
    if len(op.inputs) != 4:
        raise ctx.fail(op, f"{len(op.inputs)} inputs: STRIDED_SLICE takes the input, begin, end and strides")
    roles = ("begin", "end", "strides")
    vals = [constant_ints(ctx, op, i, role, ("int32",)) for i, role in zip(op.inputs[1:], roles, strict=True)]
    p = checked(ctx, op, strided_slice.prepare, x.shape, *vals, y.shape, op.options)
    return make_layer(op, "strided_slice_s32", p, [(x.id, x, None)], y, skip=("slices",))


@dataclass(frozen=True)
class Concat32Params:
    """cosim_concat_s32_t: per outer step, each input's run of elements (unused entries 0)"""

    outer: int
    count: int
    sizes: tuple[int, ...]  # MAX_INPUTS entries


def concat_reference(p: Concat32Params, *xs: np.ndarray) -> np.ndarray:
    parts = [x.reshape(p.outer, -1) for x in xs]
    return np.concatenate(parts, axis=1).reshape(-1)


def lower_concatenation(ctx: Lowering, op: RawOperator) -> Layer:
    if not 1 <= len(op.inputs) <= MAX_INPUTS:
        raise ctx.fail(op, f"{len(op.inputs)} inputs: this compiler's 32-bit CONCATENATION takes 1..{MAX_INPUTS}")
    if op.options.get("activation", "NONE") != "NONE":
        raise ctx.fail(op, "a fused activation on CONCATENATION is not supported")
    ins = [int32_operand(ctx, op, i, f"input {k}") for k, i in enumerate(op.inputs)]
    if all(v is not None for _, _, v in ins):
        raise ctx.fail(op, "every input is a constant: fold it before conversion (nothing to compute at run time)")
    y = ctx.act_tensor(op, op.outputs[0], "output", "int32")
    rank = len(y.shape)
    axis = int(op.options.get("axis", 0))
    if not -max(rank, 1) <= axis < max(rank, 1):
        raise ctx.fail(op, f"axis {axis} is outside the output's rank {rank}")
    axis %= max(rank, 1)
    for k, (_, t, _) in enumerate(ins):
        if len(t.shape) != rank or any(t.shape[d] != y.shape[d] for d in range(rank) if d != axis):
            raise ctx.fail(op, f"input {k} {list(t.shape)} does not match the output {list(y.shape)} off axis {axis}")
    outer = int(np.prod(y.shape[:axis], dtype=np.int64)) if axis else 1
    sizes = [int(np.prod(t.shape[axis:], dtype=np.int64)) for _, t, _ in ins]
    if outer * sum(sizes) != y.elements:
        raise ctx.fail(op, "input shapes do not add up to the output shape")
    p = Concat32Params(outer, len(sizes), tuple(sizes + [0] * (MAX_INPUTS - len(sizes))))
    return make_layer(op, f"concat_s32_{len(ins)}", p, ins, y)


def _ref(fn: Callable[..., np.ndarray]) -> Callable[[Layer, Sequence[np.ndarray]], np.ndarray]:
    return lambda layer, xs: fn(layer.prepared, *xs)


OPERATORS = (
    Operator("cast_u32", ("CAST",), "cosim_cast_t", "cosim_cast", "ops/cast.h", lower_cast, _ref(cast.reference),
             input_dtype="uint32"),
    Operator("cast_to_u32", ("CAST",), "cosim_cast_t", "cosim_cast", "ops/cast.h", lower_cast, _ref(cast.reference),
             output_dtype="uint32"),
    Operator("cast_s32_s8", ("CAST",), "cosim_cast_t", "cosim_cast", "ops/cast.h", lower_cast_to_int8,
             _ref(cast.reference), input_dtype="int32", output_dtype="int8"),
    Operator("strided_slice_s32", ("STRIDED_SLICE",), "cosim_strided_slice_s32_t", "cosim_strided_slice_s32",
             "ops/int32_data.h", lower_strided_slice, _ref(strided_slice.reference), input_dtype="int32"),
    Operator("concat_s32_1", ("CONCATENATION",), "cosim_concat_s32_t", "cosim_concat_s32_1", "ops/int32_data.h",
             lower_concatenation, _ref(concat_reference), output_dtype="int32"),
    *(Operator(f"concat_s32_{n}", (), "cosim_concat_s32_t", f"cosim_concat_s32_{n}", "ops/int32_data.h",
               lower_concatenation, _ref(concat_reference)) for n in range(2, MAX_INPUTS + 1)),
)  # fmt: skip
