"""STRIDED_SLICE of an int8 or int16 activation tensor (1-D to 4-D, as TFLM: "input dim should not exceed 4";
constant begin, end and strides; begin_mask, end_mask, shrink_axis_mask), as TFLM's reference StridedSlice.

Per axis TFLM resolves the start and stop as TensorFlow does (negative indices count from the end; a masked start or
stop is the first or last element in the stride's direction; the result is clamped to the axis, to [-1, dim - 1]
for a negative stride; a shrunk axis takes one element at its start and is dropped from the output shape). That is
Python's own slice semantics, so the numpy reference slices with Python slices. Prepare turns the resolved slices
into the output box and one signed element step per dimension: the C kernel only moves bytes. TFLM refuses
ellipsis_mask and new_axis_mask ("not implemented yet"); so does this compiler. A constant input (the shape chain of
a Flatten) is folded at compile time instead (nn/graph.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer
from tinyml_cosim.nn.ops.slice import constant_ints
from tinyml_cosim.nn.tflite_reader import RawOperator

MAX_DIMS = 5  # the kernel's walk (shared shape with SLICE)
MAX_RANK = 4  # TFLM's strided_slice_common.cc: "input dim should not exceed 4"


@dataclass(frozen=True)
class StridedSliceParams:
    """cosim_strided_slice_t: the box's shape, the signed input element step per dimension (5-D, leading 1s) and
    the element offset of its first element"""

    out_shape: tuple[int, ...]
    steps: tuple[int, ...]
    offset: int
    slices: tuple[tuple[int, int | None, int], ...]  # (start, stop, step) per input axis, for the numpy reference


def _bounds(
    dim: int, begin: int, end: int, stride: int, masked_begin: bool, masked_end: bool, shrink: bool
) -> tuple[int, int]:
    """(start, count) along one axis, as TensorFlow's strided slice resolves it."""
    if shrink:
        start = begin + dim if begin < 0 else begin
        if not 0 <= start < dim:
            raise BadInput(f"shrunk axis index {begin} is outside [-{dim}, {dim})")
        return start, 1
    lo, hi = (0, dim) if stride > 0 else (-1, dim - 1)
    first, last = (lo, hi) if stride > 0 else (hi, lo)  # a masked start / stop: the end in the stride's direction
    start = first if masked_begin else min(max(begin + dim if begin < 0 else begin, lo), hi)
    stop = last if masked_end else min(max(end + dim if end < 0 else end, lo), hi)
    count = -(-(stop - start) // stride) if stride > 0 else -(-(start - stop) // -stride)
    return start, max(0, count)


def prepare(
    in_shape: tuple[int, ...],
    begin: list[int] | None,
    end: list[int] | None,
    strides: list[int] | None,
    out_shape: tuple[int, ...],
    options: dict[str, Any],
) -> StridedSliceParams:
    n = len(in_shape)
    if not 1 <= n <= MAX_RANK:
        raise BadInput(f"STRIDED_SLICE: input rank {n}: TFLM supports 1-D to {MAX_RANK}-D")
    for mask in ("ellipsis_mask", "new_axis_mask"):
        if options.get(mask, 0):
            raise BadInput(f"STRIDED_SLICE: {mask} is set: TFLM does not implement it")
    if begin is None or end is None or strides is None:
        raise BadInput("STRIDED_SLICE: begin, end or strides is not a constant tensor: they must be constant")
    if not len(begin) == len(end) == len(strides) == n:
        raise BadInput(f"STRIDED_SLICE: begin/end/strides need one entry per input dimension ({n})")
    if any(s == 0 for s in strides):
        raise BadInput(f"STRIDED_SLICE: strides {strides}: a stride of 0 is not allowed")
    bm, em, sm = (int(options.get(k, 0) or 0) for k in ("begin_mask", "end_mask", "shrink_axis_mask"))
    if options.get("offset"):
        # TensorFlow reads `end` as relative to `begin`; the pinned TFLM drops the option and slices to `end` itself,
        # so the model means one thing and the board computes another: refused rather than guessed
        raise BadInput("STRIDED_SLICE: the offset option is set: TFLM ignores it (it slices to `end` itself)")
    starts, counts, slices = [], [], []
    for d in range(n):
        try:
            start, count = _bounds(
                in_shape[d], begin[d], end[d], strides[d], bool(bm >> d & 1), bool(em >> d & 1), bool(sm >> d & 1)
            )
        except BadInput as e:
            raise BadInput(f"STRIDED_SLICE: axis {d}: {e}") from None
        if count == 0:
            raise BadInput(f"STRIDED_SLICE: axis {d} selects no element: an empty output is not supported")
        starts.append(start)
        counts.append(count)
        stop = start + count * strides[d]
        slices.append((start, None if stop < 0 else stop, 1 if sm >> d & 1 else strides[d]))
    want = [c for d, c in enumerate(counts) if not sm >> d & 1]
    if int(np.prod(out_shape, dtype=np.int64)) != int(np.prod(want, dtype=np.int64)) or (
        tuple(out_shape) != tuple(want) and len(out_shape) == len(want)
    ):
        raise BadInput(f"STRIDED_SLICE: output shape {list(out_shape)}: begin, end and strides make {want}")
    pad = MAX_DIMS - n
    shape5 = (1,) * pad + tuple(in_shape)
    elem = [1] * MAX_DIMS
    for d in range(MAX_DIMS - 2, -1, -1):
        elem[d] = elem[d + 1] * shape5[d + 1]
    steps = [elem[pad + d] * (1 if sm >> d & 1 else strides[d]) for d in range(n)]
    offset = sum(s * elem[pad + d] for d, s in enumerate(starts))
    return StridedSliceParams((1,) * pad + tuple(counts), (0,) * pad + tuple(steps), offset, tuple(slices))


def reference(p: StridedSliceParams, x: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    return np.ascontiguousarray(x[tuple(slice(a, b, s) for a, b, s in p.slices)])


def _lowering(kind: str, dtype: str) -> Callable[[Lowering, RawOperator], Layer]:
    """The lowering of the `dtype` form: TFLM's one templated kernel, so one walk per element size here."""

    def lower(ctx: Lowering, op: RawOperator) -> Layer:
        x = ctx.act_tensor(op, op.inputs[0], "input", dtype)
        y = ctx.act_tensor(op, op.outputs[0], "output", dtype)
        if (x.scale, x.zero_point) != (y.scale, y.zero_point):
            raise ctx.fail(op, "input and output quantization differ: TFLM's STRIDED_SLICE moves bytes")
        if len(op.inputs) != 4:
            raise ctx.fail(op, f"{len(op.inputs)} inputs: STRIDED_SLICE takes the input, begin, end and strides")
        roles = ("begin", "end", "strides")
        vals = [constant_ints(ctx, op, i, role, ("int32",)) for i, role in zip(op.inputs[1:], roles, strict=True)]
        p = checked(ctx, op, prepare, x.shape, *vals, y.shape, op.options)
        return make_layer(op, kind, p, [(x.id, x, None)], y, skip=("slices",))

    return lower


OPERATORS = (
    Operator(
        "strided_slice",
        ("STRIDED_SLICE",),
        "cosim_strided_slice_t",
        "cosim_strided_slice_s8",
        "ops/strided_slice.h",
        _lowering("strided_slice", "int8"),
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
    Operator(  # the int16 activations of a 16x8 model (SEANet's crops)
        "strided_slice_s16",
        ("STRIDED_SLICE",),
        "cosim_strided_slice_t",
        "cosim_strided_slice_s16",
        "ops/strided_slice.h",
        _lowering("strided_slice_s16", "int16"),
        lambda layer, xs: reference(layer.prepared, *xs),
        input_dtype="int16",
    ),
)
