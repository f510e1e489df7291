"""ARG_MAX and ARG_MIN over one constant axis of an int8 tensor, as TFLM's reference ArgMinMax: the index (int32)
of the first largest (smallest) value along the axis; the output drops that axis.

TFLM supports only an int32 output and an int32 axis (an int64 output_type, TensorFlow's default for tf.math.argmax,
or an int64 axis fails at Invoke with "Only int32_t are supported currently"), so int64 is refused at compile time
with that reason. The quantization
of the input does not matter: a larger quantized value is a larger real value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, int32_values, make_layer, operands
from tinyml_cosim.nn.tflite_reader import RawOperator


@dataclass(frozen=True)
class ArgMinMaxParams:
    """cosim_arg_min_max_t: the input as [outer, axis, inner]"""

    outer: int
    axis_size: int
    inner: int
    is_max: int
    axis: int  # resolved, for the numpy reference


def prepare(
    op: str,
    in_shape: tuple[int, ...],
    axis: list[int] | None,
    out_shape: tuple[int, ...],
    out_dtype: str,
    axis_dtype: str = "int32",
) -> ArgMinMaxParams:
    if out_dtype != "int32":
        raise BadInput(f"{op}: output type {out_dtype}: TFLM supports only int32 (set output_type=tf.int32)")
    if axis_dtype != "int32":
        raise BadInput(f"{op}: axis tensor is {axis_dtype}: TFLM supports only an int32 axis")
    if axis is None:
        raise BadInput(f"{op}: axis is not a constant tensor: this compiler needs a constant axis")
    if len(axis) != 1:
        raise BadInput(f"{op}: axis has {len(axis)} values: TFLM takes one")
    rank = len(in_shape)
    a = axis[0] + rank if axis[0] < 0 else axis[0]
    if not 0 <= a < rank:
        raise BadInput(f"{op}: axis {axis[0]} is out of range for a {rank}-D input")
    want = tuple(d for i, d in enumerate(in_shape) if i != a)
    if tuple(out_shape) != want and int(np.prod(out_shape)) != int(np.prod(want)):
        raise BadInput(f"{op}: output shape {list(out_shape)}: reducing axis {a} gives {list(want)}")
    outer = int(np.prod(in_shape[:a], dtype=np.int64))
    inner = int(np.prod(in_shape[a + 1 :], dtype=np.int64))
    return ArgMinMaxParams(outer, int(in_shape[a]), inner, int(op == "ARG_MAX"), a)


def reference(p: ArgMinMaxParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int32]:
    # numpy's argmax / argmin return the first index of a tie, as TFLM's strict comparison does
    fn = np.argmax if p.is_max else np.argmin
    return fn(x.reshape(p.outer, p.axis_size, p.inner), axis=1).astype(np.int32)


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("input",), constant_ok=False)
    x = ins[0][1]
    raw_out = ctx.t(op.outputs[0])
    axis = int32_values(ctx, op, op.inputs[1] if len(op.inputs) > 1 else -1, "axis")
    axis_dtype = ctx.t(op.inputs[1]).dtype if len(op.inputs) > 1 and op.inputs[1] >= 0 else "int32"
    p = checked(ctx, op, prepare, op.name, x.shape, axis, raw_out.shape, raw_out.dtype, axis_dtype)
    y = ctx.act_tensor(op, op.outputs[0], "output", "int32")
    layer = make_layer(op, op.name.lower(), p, ins, y, skip=("axis",))
    layer.macs = x.elements  # one comparison per input element
    return layer


OPERATORS = tuple(
    Operator(
        name.lower(),
        (name,),
        "cosim_arg_min_max_t",
        "cosim_arg_min_max_s8",
        "ops/arg_min_max.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    )
    for name in ("ARG_MAX", "ARG_MIN")
)
