"""MEAN (int8) over adjacent axes, keep_dims either way, as TFLM's int8 reference: one general reduction, the input
seen as [outer, reduce, inner] (keep_dims changes only the output's shape, not its bytes).

Dimensions of size 1 move no byte, so the reduced axes need only be adjacent among the others. TFLM folds the 1/n
of the mean into the multiplier: the input/output multiplier shifted up by floor(log2 n) bits (capped at 32 and at
31 + shift), divided by n in int64 (truncating), the shift lowered to match; the kernel sums (x - zp_in) in int32,
requantizes and adds zp_out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, int32_values, make_layer
from tinyml_cosim.nn.quant import mbqm, quantize_multiplier, wrap32
from tinyml_cosim.nn.tflite_reader import RawOperator


@dataclass(frozen=True)
class MeanParams:
    """cosim_mean_t"""

    outer: int
    reduce: int
    inner: int
    input_zp: int
    output_zp: int
    multiplier: int
    shift: int


def prepare(
    in_shape: tuple[int, ...],
    axes_given: list[int],
    out_shape: tuple[int, ...],
    q_in: tuple[float, int],
    q_out: tuple[float, int],
) -> MeanParams:
    rank = len(in_shape)
    axes = sorted({a % rank for a in axes_given}) if rank else []
    big = [d for d in range(rank) if in_shape[d] != 1]
    reduced = [d for d in big if d in axes]
    if reduced and big[big.index(reduced[0]) : big.index(reduced[-1]) + 1] != reduced:
        raise BadInput(
            f"MEAN: over axes {axes} of {list(in_shape)} is not supported: the reduced axes must be adjacent "
            "(ignoring dimensions of size 1)"
        )
    first, last = (reduced[0], reduced[-1]) if reduced else (rank, rank - 1)
    outer = int(np.prod(in_shape[:first])) if first else 1
    n = int(np.prod(in_shape[first : last + 1])) if reduced else 1
    inner = int(np.prod(in_shape)) // (outer * n)
    out_elements = int(np.prod(out_shape)) if out_shape else 1
    if out_elements != outer * inner:
        raise BadInput(
            f"output {list(out_shape)} has {out_elements} elements; MEAN over axes {axes} of {list(in_shape)} "
            f"gives {outer * inner}"
        )
    m, s = quantize_multiplier(q_in[0] / q_out[0])
    extra = min(n.bit_length() - 1, 32, 31 + s)
    return MeanParams(outer, n, inner, q_in[1], q_out[1], int((m << extra) // n), s - extra)


def reference(p: MeanParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    acc = (x.reshape(p.outer, p.reduce, p.inner).astype(np.int64) - p.input_zp).sum(axis=1).reshape(-1)
    acc = mbqm(wrap32(acc), p.multiplier, p.shift)
    return np.clip(acc + p.output_zp, -128, 127).astype(np.int8)


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    x = ctx.act_tensor(op, op.inputs[0], "input")
    y = ctx.act_tensor(op, op.outputs[0], "output")
    axes = int32_values(ctx, op, op.inputs[1] if len(op.inputs) > 1 else -1, "axis")
    if axes is None:
        raise ctx.fail(op, f"axis {ctx.t(op.inputs[1]).describe()} must be a constant")
    p = checked(ctx, op, prepare, x.shape, axes, y.shape, (x.scale, x.zero_point), (y.scale, y.zero_point))
    layer = make_layer(op, "mean", p, [(x.id, x, None)], y)
    layer.macs = x.elements
    return layer


OPERATORS = (
    Operator(
        "mean",
        ("MEAN",),
        "cosim_mean_t",
        "cosim_mean_s8",
        "ops/mean.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
