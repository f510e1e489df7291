"""UNPACK (int8) along one axis, as TFLM's reference: output i is the input's slice i along the axis, that axis
dropped. Each output is a contiguous box of the input, so each is one SLICE kernel call (nn/ops/slice.py), as
SPLIT's are; the dropped axis changes the shape, not the bytes."""

from __future__ import annotations

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops import slice as slice_op
from tinyml_cosim.nn.ops.base import Lowering, Operand, Operator, checked, make_layer
from tinyml_cosim.nn.tflite_reader import RawOperator


def check(in_shape: tuple[int, ...], axis: int, num: int, outs: list[tuple[int, ...]]) -> int:
    """The resolved axis; every output must be the input's shape less that axis."""
    rank = len(in_shape)
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise BadInput(f"UNPACK: axis {axis} is out of range for a {rank}-D input")
    if len(outs) != in_shape[a] or (num and num != in_shape[a]):
        raise BadInput(f"UNPACK: {len(outs)} outputs (num {num}) for an axis of {in_shape[a]}: they must be equal")
    want = tuple(d for i, d in enumerate(in_shape) if i != a)
    for k, shape in enumerate(outs):
        if tuple(shape) != want:
            raise BadInput(f"UNPACK: output {k} has shape {list(shape)}: unpacking axis {a} gives {list(want)}")
    return a


def lower(ctx: Lowering, op: RawOperator) -> list[Layer]:
    x = ctx.act_tensor(op, op.inputs[0], "input")
    ins: list[Operand] = [(x.id, x, None)]
    ys = [ctx.act_tensor(op, o, f"output {k}") for k, o in enumerate(op.outputs)]
    for k, y in enumerate(ys):
        if (y.scale, y.zero_point) != (x.scale, x.zero_point):
            raise ctx.fail(op, f"output {k} quantization differs from the input's: TFLM's UNPACK moves bytes")
    o = op.options
    a = checked(ctx, op, check, x.shape, int(o.get("axis", 0)), int(o.get("num", 0)), [y.shape for y in ys])
    layers = []
    for i, y in enumerate(ys):
        begin = [i if d == a else 0 for d in range(len(x.shape))]
        size = [1 if d == a else -1 for d in range(len(x.shape))]
        box = tuple(1 if d == a else n for d, n in enumerate(x.shape))
        p = checked(ctx, op, slice_op.prepare, x.shape, begin, size, box)
        layers.append(make_layer(op, "slice", p, ins, y, skip=("begin", "size")))
    return layers


OPERATORS = (
    Operator(
        "unpack",
        ("UNPACK",),
        "cosim_slice_t",
        "cosim_slice_s8",
        "ops/slice.h",
        lower,
        lambda layer, xs: slice_op.reference(layer.prepared, *xs),
    ),
)
