"""SUM (int8) over constant axes, keep_dims or not, as TFLM's reference QuantizedMeanOrSum with compute_sum.

TFLM sums the raw bytes in int32, takes off the input zero point once per summed element, and requantizes by
input scale / output scale (QuantizeMultiplier of the double ratio, MultiplyByQuantizedMultiplier, double rounding),
adds the output zero point and clamps to int8. No axes (an empty axis tensor) requantizes element by element.
The C kernel walks the same five-dimensional kept / reduced split as REDUCE_MAX (nn/ops/reduce_max.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, int32_values, make_layer, operands, q
from tinyml_cosim.nn.ops.reduce_max import MAX_DIMS, resolve_axes
from tinyml_cosim.nn.quant import mbqm, quantize_multiplier, wrap32
from tinyml_cosim.nn.tflite_reader import RawOperator


@dataclass(frozen=True)
class SumParams:
    """cosim_reduce_sum_t: kept and reduced dimensions (as cosim_reduce_minmax_t) and the requantization"""

    keep_shape: tuple[int, ...]
    keep_strides: tuple[int, ...]
    red_shape: tuple[int, ...]
    red_strides: tuple[int, ...]
    count: int  # elements summed into each output
    in_zp: int
    out_zp: int
    out_mult: int
    out_shift: int
    axes: tuple[int, ...]  # resolved, sorted, for the numpy reference


def prepare(
    in_shape: tuple[int, ...],
    axes: list[int] | None,
    out_shape: tuple[int, ...],
    q_in: tuple[float, int],
    q_out: tuple[float, int],
    keep_dims: bool,
) -> SumParams:
    rank = len(in_shape)
    if not 1 <= rank <= MAX_DIMS:
        raise BadInput(f"SUM: input rank {rank}: this compiler's kernel takes 1-D to {MAX_DIMS}-D")
    res = resolve_axes("SUM", axes, rank)
    want = (
        tuple(1 if d in res else n for d, n in enumerate(in_shape))
        if keep_dims
        else tuple(n for d, n in enumerate(in_shape) if d not in res)
    )
    if tuple(out_shape) != want:
        raise BadInput(f"SUM: output shape {list(out_shape)}: reducing axes {list(res)} gives {list(want)}")
    pad = MAX_DIMS - rank
    shape5 = (1,) * pad + tuple(in_shape)
    red5 = {pad + a for a in res}
    strides = [1] * MAX_DIMS
    for d in range(MAX_DIMS - 2, -1, -1):
        strides[d] = strides[d + 1] * shape5[d + 1]
    keep = tuple(1 if d in red5 else shape5[d] for d in range(MAX_DIMS))
    red = tuple(shape5[d] if d in red5 else 1 for d in range(MAX_DIMS))
    count = int(np.prod(red))
    if count * 128 >= 1 << 31:
        raise BadInput(f"SUM: {count} elements per output overflow TFLM's int32 accumulator")
    mult, shift = quantize_multiplier(float(q_in[0]) / float(q_out[0]))  # the ratio of the scales, in double
    return SumParams(keep, tuple(strides), red, tuple(strides), count, q_in[1], q_out[1], mult, shift, res)


def reference(p: SumParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    total = np.sum(x.astype(np.int64), axis=p.axes) if p.axes else x.astype(np.int64)
    shifted = wrap32(total - p.in_zp * p.count)
    out = mbqm(shifted, p.out_mult, p.out_shift) + p.out_zp
    return np.ascontiguousarray(np.clip(out, -128, 127).astype(np.int8))


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("input",), constant_ok=False)
    x = ins[0][1]
    y = ctx.act_tensor(op, op.outputs[0], "output")
    axes = int32_values(ctx, op, op.inputs[1], "axis")
    if axes is None:
        raise ctx.fail(op, "axis is not a constant tensor: this compiler needs constant axes")
    keep = bool(op.options.get("keep_dims", False))
    p = checked(ctx, op, prepare, x.shape, axes, y.shape, q(x), q(y), keep)
    return make_layer(op, "reduce_sum", p, ins, y, skip=("axes",))


OPERATORS = (
    Operator(
        "reduce_sum",
        ("SUM",),
        "cosim_reduce_sum_t",
        "cosim_reduce_sum_s8",
        "ops/reduce_sum.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
