"""TRANSPOSE (int8): a constant permutation of 1-D to 5-D tensors, as TFLM's reference Transpose.

The C kernel walks the output in order over five dimensions (the shape padded with leading 1s); for each output
dimension it steps the input by the stride of the input dimension the permutation names.
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
)
from tinyml_cosim.nn.tflite_reader import RawOperator

MAX_DIMS = 5  # TFLM: "Transpose op only supports 1D-5D input arrays."


@dataclass(frozen=True)
class TransposeParams:
    """cosim_transpose_t: output shape and, per output dimension, the input element stride (5-D, leading 1s)"""

    out_shape: tuple[int, ...]
    in_strides: tuple[int, ...]
    perm: tuple[int, ...]  # as in the model, for the numpy reference


def prepare(in_shape: tuple[int, ...], perm: list[int] | None, out_shape: tuple[int, ...]) -> TransposeParams:
    n = len(in_shape)
    if not 1 <= n <= MAX_DIMS:
        raise BadInput(f"TRANSPOSE: input rank {n}: TFLM supports 1-D to {MAX_DIMS}-D")
    if perm is None:
        raise BadInput("TRANSPOSE: perm is not a constant tensor: TFLM needs a constant permutation")
    if len(perm) != n:
        raise BadInput(f"TRANSPOSE: perm {perm} has {len(perm)} entries: it needs one per input dimension ({n})")
    if any(not 0 <= p < n for p in perm):
        raise BadInput(f"TRANSPOSE: perm {perm}: entries must lie in [0, {n})")
    if sorted(perm) != list(range(n)):
        raise BadInput(f"TRANSPOSE: perm {perm} repeats a dimension: it must be a permutation of 0..{n - 1}")
    want = tuple(in_shape[p] for p in perm)
    if tuple(out_shape) != want:
        raise BadInput(f"TRANSPOSE: output shape {list(out_shape)}: the permuted input shape is {list(want)}")
    pad = MAX_DIMS - n
    shape5 = (1,) * pad + tuple(in_shape)
    perm5 = list(range(pad)) + [pad + p for p in perm]
    strides = [1] * MAX_DIMS
    for d in range(MAX_DIMS - 2, -1, -1):
        strides[d] = strides[d + 1] * shape5[d + 1]
    return TransposeParams(
        tuple(shape5[p] for p in perm5), tuple(strides[p] for p in perm5), tuple(int(p) for p in perm)
    )


def reference(p: TransposeParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    return np.ascontiguousarray(np.transpose(x, p.perm))


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("input",), constant_ok=False)
    x = ins[0][1]
    y = ctx.act_tensor(op, op.outputs[0], "output")
    if (x.scale, x.zero_point) != (y.scale, y.zero_point):
        raise ctx.fail(op, "input and output quantization differ: TFLM's TRANSPOSE moves bytes, it does not requantize")
    perm = int32_values(ctx, op, op.inputs[1], "perm")
    p = checked(ctx, op, prepare, x.shape, perm, y.shape)
    return make_layer(op, "transpose", p, ins, y, skip=("perm",))


OPERATORS = (
    Operator(
        "transpose",
        ("TRANSPOSE",),
        "cosim_transpose_t",
        "cosim_transpose_s8",
        "ops/transpose.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
