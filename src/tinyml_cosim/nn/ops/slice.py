"""SLICE (int8, 1-D to 5-D, constant int32 or int64 `begin` and `size`; size -1 = to the end), as TFLM's reference.

TFLM front-pads the shape, begin and size to five dimensions and copies the box begin .. begin + size in order. Here
Prepare does the same padding and hands the kernel the box's shape, the input strides and the element offset of its
first corner: the C kernel only moves bytes. TFLM checks none of the bounds at run time (it would read outside the
input), so a box that leaves the input is refused here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer, operands
from tinyml_cosim.nn.tflite_reader import RawOperator

MAX_DIMS = 5  # TFLM: kMaxDim


@dataclass(frozen=True)
class SliceParams:
    """cosim_slice_t: the box's shape and the input strides (5-D, leading 1s), the element offset of its corner"""

    out_shape: tuple[int, ...]
    in_strides: tuple[int, ...]
    offset: int
    begin: tuple[int, ...]  # as in the model (sizes resolved), for the numpy reference
    size: tuple[int, ...]


def constant_ints(ctx: Lowering, op: RawOperator, index: int, role: str, dtypes: tuple[str, ...]) -> list[int] | None:
    """A constant integer operand's values when it has one of `dtypes`; None when it is computed at run time."""
    values = ctx.const_values(op, index) if index >= 0 else None
    if values is None:
        return None
    if str(values.dtype) not in dtypes:
        raise ctx.fail(
            op, f"{role} {ctx.t(index).describe()} is {values.dtype}: TFLM reads it as {' or '.join(dtypes)}"
        )
    return [int(v) for v in np.asarray(values).reshape(-1)]


def prepare(
    in_shape: tuple[int, ...], begin: list[int] | None, size: list[int] | None, out_shape: tuple[int, ...]
) -> SliceParams:
    n = len(in_shape)
    if not 1 <= n <= MAX_DIMS:
        raise BadInput(f"SLICE: input rank {n}: TFLM supports 1-D to {MAX_DIMS}-D")
    if begin is None or size is None:
        raise BadInput("SLICE: begin or size is not a constant tensor: they must be constant int32/int64 vectors")
    if len(begin) != n or len(size) != n:
        raise BadInput(f"SLICE: begin {begin} / size {size}: each needs one entry per input dimension ({n})")
    sizes = []
    for d, (b, s, dim) in enumerate(zip(begin, size, in_shape, strict=True)):
        if not 0 <= b < dim:
            raise BadInput(f"SLICE: begin {begin}: entry {d} must lie in [0, {dim})")
        s = dim - b if s == -1 else s
        if not 1 <= s <= dim - b:
            raise BadInput(f"SLICE: size {size}: entry {d} must be -1 or in [1, {dim - b}] (begin {b}, dim {dim})")
        sizes.append(s)
    if tuple(out_shape) != tuple(sizes):
        raise BadInput(f"SLICE: output shape {list(out_shape)}: begin and size make {sizes}")
    pad = MAX_DIMS - n
    shape5 = (1,) * pad + tuple(in_shape)
    strides = [1] * MAX_DIMS
    for d in range(MAX_DIMS - 2, -1, -1):
        strides[d] = strides[d + 1] * shape5[d + 1]
    begin5 = (0,) * pad + tuple(begin)
    offset = sum(b * s for b, s in zip(begin5, strides, strict=True))
    return SliceParams((1,) * pad + tuple(sizes), tuple(strides), offset, tuple(begin), tuple(sizes))


def reference(p: SliceParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    box = tuple(slice(b, b + s) for b, s in zip(p.begin, p.size, strict=True))
    return np.ascontiguousarray(x[box])


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("input",), constant_ok=False)
    x = ins[0][1]
    y = ctx.act_tensor(op, op.outputs[0], "output")
    if (x.scale, x.zero_point) != (y.scale, y.zero_point):
        raise ctx.fail(op, "input and output quantization differ: TFLM's SLICE moves bytes, it does not requantize")
    if len(op.inputs) != 3:
        raise ctx.fail(op, f"{len(op.inputs)} inputs: SLICE takes the input, begin and size")
    kinds = [str(ctx.t(i).dtype) for i in op.inputs[1:]]
    if kinds[0] != kinds[1]:
        raise ctx.fail(op, f"begin is {kinds[0]} and size {kinds[1]}: TFLM reads both as begin's type")
    begin = constant_ints(ctx, op, op.inputs[1], "begin", ("int32", "int64"))
    size = constant_ints(ctx, op, op.inputs[2], "size", ("int32", "int64"))
    p = checked(ctx, op, prepare, x.shape, begin, size, y.shape)
    return make_layer(op, "slice", p, ins, y, skip=("begin", "size"))


OPERATORS = (
    Operator(
        "slice",
        ("SLICE",),
        "cosim_slice_t",
        "cosim_slice_s8",
        "ops/slice.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
