"""REDUCE_MAX and REDUCE_MIN (int8) over any set of axes, keep_dims or not, as TFLM's reference ReduceGeneric.

TFLM's int8 path does not requantize: it insists on the output having the input's scale and zero point, and takes
the plain maximum (minimum) of the bytes, starting from -128 (127). keep_dims only changes the output shape.
The C kernel sees the input as five dimensions (leading 1s); the compiler splits them into the kept ones (walked in
output order) and the reduced ones (walked for each output element), each with its input element strides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import (
    Lowering,
    Operator,
    checked,
    int32_values,
    make_layer,
    operands,
    q,
)
from tinyml_cosim.nn.quant import f32
from tinyml_cosim.nn.tflite_reader import RawOperator

MAX_DIMS = 5


@dataclass(frozen=True)
class ReduceMinMaxParams:
    """cosim_reduce_minmax_t: kept and reduced dimensions (size 1 where the other set has the dimension)"""

    keep_shape: tuple[int, ...]
    keep_strides: tuple[int, ...]
    red_shape: tuple[int, ...]
    red_strides: tuple[int, ...]
    axes: tuple[int, ...]  # resolved, sorted, for the numpy reference


def resolve_axes(op: str, axes: list[int] | None, rank: int) -> tuple[int, ...]:
    if axes is None:
        raise BadInput(f"{op}: axis is not a constant tensor: this compiler needs constant axes")
    out: list[int] = []
    for a in axes:
        if not -rank <= a < rank:
            raise BadInput(f"{op}: axis {a} is out of range for a {rank}-D input (TFLM refuses it)")
        r = a + rank if a < 0 else a
        if r not in out:  # TFLM skips repeated axes
            out.append(r)
    return tuple(sorted(out))


def prepare(
    op: str,
    in_shape: tuple[int, ...],
    axes: list[int] | None,
    out_shape: tuple[int, ...],
    q_in: tuple[float, int],
    q_out: tuple[float, int],
    keep_dims: bool,
) -> ReduceMinMaxParams:
    if op not in ("REDUCE_MAX", "REDUCE_MIN"):
        raise BadInput(f"{op}: not an operator of this module (REDUCE_MAX, REDUCE_MIN)")
    rank = len(in_shape)
    if not 1 <= rank <= MAX_DIMS:
        raise BadInput(f"{op}: input rank {rank}: this compiler's kernel takes 1-D to {MAX_DIMS}-D")
    if f32(q_in[0]) != f32(q_out[0]) or q_in[1] != q_out[1]:
        raise BadInput(
            f"{op}: output quantization {q_out} differs from the input's {q_in}: TFLM's int8 {op} needs them equal"
        )
    res = resolve_axes(op, axes, rank)
    want = (
        tuple(1 if d in res else n for d, n in enumerate(in_shape))
        if keep_dims
        else tuple(n for d, n in enumerate(in_shape) if d not in res)
    )
    if tuple(out_shape) != want:
        raise BadInput(f"{op}: output shape {list(out_shape)}: reducing axes {list(res)} gives {list(want)}")
    pad = MAX_DIMS - rank
    shape5 = (1,) * pad + tuple(in_shape)
    red5 = {pad + a for a in res}
    strides = [1] * MAX_DIMS
    for d in range(MAX_DIMS - 2, -1, -1):
        strides[d] = strides[d + 1] * shape5[d + 1]
    keep_shape = tuple(1 if d in red5 else shape5[d] for d in range(MAX_DIMS))
    red_shape = tuple(shape5[d] if d in red5 else 1 for d in range(MAX_DIMS))
    return ReduceMinMaxParams(keep_shape, tuple(strides), red_shape, tuple(strides), res)


def reference(op: str, p: ReduceMinMaxParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    if not p.axes:
        return x.copy()
    fn = np.max if op == "REDUCE_MAX" else np.min
    return np.ascontiguousarray(fn(x, axis=p.axes)).astype(np.int8)


def _lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("input",), constant_ok=False)
    x = ins[0][1]
    y = ctx.act_tensor(op, op.outputs[0], "output")
    axes = int32_values(ctx, op, op.inputs[1], "axis")
    if axes is None:
        raise ctx.fail(op, "axis is not a constant tensor: TFLM needs constant axes")
    keep = bool(op.options.get("keep_dims", False))
    p = checked(ctx, op, prepare, op.name, x.shape, axes, y.shape, q(x), q(y), keep)
    return make_layer(op, op.name.lower(), p, ins, y, skip=("axes",))


OPERATORS = tuple(
    Operator(
        name.lower(),
        (name,),
        "cosim_reduce_minmax_t",
        f"cosim_{name.lower()}_s8",
        "ops/reduce_max.h",
        _lower,
        lambda layer, xs: reference(layer.op_name, layer.prepared, *xs),
    )
    for name in ("REDUCE_MAX", "REDUCE_MIN")
)
