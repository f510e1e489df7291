"""SELECT_V2 (bool condition, int8 values, up to 4-D broadcasting of all three), as TFLM's Select /
BroadcastSelect5DSlow: each output element is x's where the condition is true, else y's.

TFLM copies bytes (no requantization), so x, y and the output must share one quantization. The condition is a bool
tensor of the arena (one byte, 0 or 1: what a comparison before it writes); a constant condition is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, int8_operand, make_layer, q
from tinyml_cosim.nn.ops.sub import MAX_DIMS, broadcast_4d, broadcast_strides
from tinyml_cosim.nn.tflite_reader import RawOperator

Shape = tuple[int, ...]


@dataclass(frozen=True)
class SelectParams:
    """cosim_select_v2_t: output shape and each operand's element strides per output dimension (0 = broadcast)"""

    out_shape: tuple[int, ...]
    cond_strides: tuple[int, ...]
    x_strides: tuple[int, ...]
    y_strides: tuple[int, ...]


def prepare(shapes: tuple[Shape, Shape, Shape, Shape]) -> SelectParams:
    """`shapes`: condition, x, y, output."""
    cond, x, y, out = (tuple(s) for s in shapes)
    sizes = [int(np.prod(s, dtype=np.int64)) for s in (cond, x, y, out)]
    if cond == x == y or sizes == [1, 1, 1, 1]:  # TFLM's element-wise path (any rank, or mixed scalars)
        if x != out and sizes != [1, 1, 1, 1]:
            raise BadInput(f"SELECT_V2: output shape {list(out)} differs from the operands' {list(x)}")
        n = sizes[3]
        return SelectParams((1, 1, 1, n), (0, 0, 0, 1), (0, 0, 0, 1), (0, 0, 0, 1))
    try:
        want = tuple(int(d) for d in np.broadcast_shapes(cond, x, y))
    except ValueError:
        raise BadInput(f"SELECT_V2: condition {list(cond)}, x {list(x)} and y {list(y)} do not broadcast") from None
    if want != out:
        raise BadInput(f"SELECT_V2: output shape {list(out)} is not the broadcast of the operands' {list(want)}")
    if len(out) > MAX_DIMS:
        raise BadInput(f"SELECT_V2: output rank {len(out)}: this compiler's SELECT_V2 kernel broadcasts up to 4-D")
    out4 = (1,) * (MAX_DIMS - len(out)) + out
    return SelectParams(out4, *(broadcast_strides("SELECT_V2", s, out4) for s in (cond, x, y)))


def reference(
    p: SelectParams, cond: npt.NDArray[np.bool_], x: npt.NDArray[np.int8], y: npt.NDArray[np.int8]
) -> npt.NDArray[np.int8]:
    shape = x.shape if cond.shape == x.shape == y.shape else np.broadcast_shapes(cond.shape, x.shape, y.shape)
    flat = p.cond_strides == p.x_strides == p.y_strides == (0, 0, 0, 1)
    c8 = cond.astype(np.int8)  # the 0 / 1 bytes the kernel reads
    c4, x4, y4 = (broadcast_4d(v.reshape(-1) if flat else v, p.out_shape) for v in (c8, x, y))
    return np.where(c4 != 0, x4, y4).astype(np.int8).reshape(shape)


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    if len(op.inputs) != 3:
        raise ctx.fail(op, f"{len(op.inputs)} inputs: SELECT_V2 takes condition, x, y")
    c = ctx.act_tensor(op, op.inputs[0], "condition", "bool")
    xs = int8_operand(ctx, op, op.inputs[1], "x")
    ys = int8_operand(ctx, op, op.inputs[2], "y")
    out = ctx.act_tensor(op, op.outputs[0], "output")
    if not q(xs[1]) == q(ys[1]) == q(out):
        raise ctx.fail(
            op,
            f"x {q(xs[1])}, y {q(ys[1])} and output {q(out)} quantizations (scale, zero point) differ: TFLM's "
            "SELECT_V2 copies bytes, it needs them equal",
        )
    p = checked(ctx, op, prepare, (c.shape, xs[1].shape, ys[1].shape, out.shape))
    return make_layer(op, "select_v2", p, [(c.id, c, None), xs, ys], out)


OPERATORS = (
    Operator(
        "select_v2",
        ("SELECT_V2",),
        "cosim_select_v2_t",
        "cosim_select_v2_s8",
        "ops/select_v2.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
