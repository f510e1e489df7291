"""SPLIT and SPLIT_V of an int8 tensor along one constant axis, as TFLM's reference kernels: each output is a
contiguous box of the input, so each is lowered to one SLICE kernel call (nn/ops/slice.py) that copies its box.

TFLM takes every output's extent along the axis from the output tensor's own shape (SPLIT: num_splits equal parts;
SPLIT_V: `size_splits`, one entry may be -1 for the rest); the compiler checks that they tile the input. Like SLICE,
the bytes move unchanged, so an output quantized differently from the input is refused.
"""

from __future__ import annotations

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops import slice as slice_op
from tinyml_cosim.nn.ops.base import Lowering, Operand, Operator, checked, make_layer
from tinyml_cosim.nn.tflite_reader import RawOperator


def extents(op: str, in_shape: tuple[int, ...], axis: int, outs: list[tuple[int, ...]]) -> list[int]:
    """Each output's extent along the axis, checked against the input (TFLM copies by the output shapes)."""
    rank = len(in_shape)
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise BadInput(f"{op}: axis {axis} is out of range for a {rank}-D input")
    sizes = []
    for k, shape in enumerate(outs):
        if len(shape) != rank or any(shape[d] != in_shape[d] for d in range(rank) if d != a):
            raise BadInput(f"{op}: output {k} has shape {list(shape)}: off axis {a} it must be the input's {in_shape}")
        sizes.append(int(shape[a]))
    if sum(sizes) != in_shape[a] or min(sizes) < 1:
        raise BadInput(f"{op}: the outputs' extents {sizes} along axis {a} do not tile the input's {in_shape[a]}")
    return sizes


def lower(ctx: Lowering, op: RawOperator) -> list[Layer]:
    data_at, axis_at = (1, 0) if op.name == "SPLIT" else (0, 2)
    if len(op.inputs) <= max(data_at, axis_at):
        want = "axis, input" if op.name == "SPLIT" else "input, size_splits, axis"
        raise ctx.fail(op, f"{len(op.inputs)} inputs: {op.name} takes {want}")
    x = ctx.act_tensor(op, op.inputs[data_at], "input")
    ins: list[Operand] = [(x.id, x, None)]
    axis_v = slice_op.constant_ints(ctx, op, op.inputs[axis_at], "axis", ("int32",))
    if axis_v is None or len(axis_v) != 1:
        raise ctx.fail(op, "axis is not a constant int32 scalar: TFLM needs a constant axis")
    ys = [ctx.act_tensor(op, o, f"output {k}") for k, o in enumerate(op.outputs)]
    for k, y in enumerate(ys):
        if (y.scale, y.zero_point) != (x.scale, x.zero_point):
            raise ctx.fail(op, f"output {k} quantization differs from the input's: TFLM's {op.name} moves bytes")
    sizes = checked(ctx, op, extents, op.name, x.shape, axis_v[0], [y.shape for y in ys])
    a = axis_v[0] % len(x.shape)
    layers, at = [], 0
    for y, n in zip(ys, sizes, strict=True):
        begin = [at if d == a else 0 for d in range(len(x.shape))]
        size = [n if d == a else -1 for d in range(len(x.shape))]
        p = checked(ctx, op, slice_op.prepare, x.shape, begin, size, y.shape)
        layers.append(make_layer(op, "slice", p, ins, y, skip=("begin", "size")))
        at += n
    return layers


OPERATORS = (
    Operator(
        "split",
        ("SPLIT", "SPLIT_V"),
        "cosim_slice_t",
        "cosim_slice_s8",
        "ops/slice.h",
        lower,
        lambda layer, xs: slice_op.reference(layer.prepared, *xs),
    ),
)
