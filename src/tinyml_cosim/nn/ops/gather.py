"""GATHER (int8 params, constant int32 indices, any `axis`, `batch_dims`), as TFLM's reference kernel.

TFLM copies, for every batch (the first batch_dims dimensions), every outer index (the dimensions between them and
`axis`) and every index, one contiguous run of the dimensions after `axis`. The indices are constants, so Prepare
checks them (TFLM's Eval only TFLITE_DCHECKs them, which release builds compile out) and hands the kernel the loop
sizes and the index table: the C kernel only moves bytes. TFLM takes int32 indices only (its Prepare refuses int64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer, operands
from tinyml_cosim.nn.tflite_reader import RawOperator


@dataclass(frozen=True)
class GatherParams:
    """cosim_gather_t (the index table is emitted as a const int32_t array, batches * coords entries)"""

    batches: int
    outer: int
    coords: int  # indices per batch
    axis_size: int
    inner: int  # elements per gathered run
    indices: tuple[int, ...]
    axis: int  # normalised, for the numpy reference
    batch_dims: int
    index_shape: tuple[int, ...]


def prepare(
    in_shape: tuple[int, ...],
    indices: npt.NDArray[np.int64] | None,
    out_shape: tuple[int, ...],
    axis: int = 0,
    batch_dims: int = 0,
) -> GatherParams:
    if indices is None:
        raise BadInput("GATHER: indices are not a constant tensor: only constant int32 indices are compiled")
    rank, irank = len(in_shape), indices.ndim
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise BadInput(f"GATHER: axis {axis}: it must lie in [{-rank}, {rank}) for a {rank}-D input")
    bd = batch_dims + irank if batch_dims < 0 else batch_dims
    if not 0 <= bd <= min(a, irank) or bd >= rank:
        raise BadInput(f"GATHER: batch_dims {batch_dims}: TFLM needs 0 <= it <= axis ({a}) and <= the indices' rank")
    if tuple(in_shape[:bd]) != tuple(indices.shape[:bd]):
        raise BadInput(f"GATHER: the first {bd} dimensions of the input and of the indices must be equal (batch_dims)")
    size = in_shape[a]
    if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= size):
        raise BadInput(f"GATHER: an index lies outside [0, {size}) (TFLM would read outside the input)")
    want = (*in_shape[:a], *indices.shape[bd:], *in_shape[a + 1 :])
    if tuple(out_shape) != want:
        raise BadInput(f"GATHER: output shape {list(out_shape)}: the input and indices make {list(want)}")
    if math.prod(want) == 0:
        raise BadInput("GATHER: the output is empty")
    return GatherParams(
        math.prod(in_shape[:bd]),
        math.prod(in_shape[bd:a]),
        math.prod(indices.shape[bd:]),
        size,
        math.prod(in_shape[a + 1 :]),
        tuple(int(i) for i in indices.reshape(-1)),
        a,
        bd,
        tuple(indices.shape),
    )


def reference(p: GatherParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    idx = np.array(p.indices, np.int64).reshape(p.index_shape)
    if p.batch_dims == 0:
        return np.ascontiguousarray(np.take(x, idx, axis=p.axis))
    # per batch: the batch's input and indices, gathered along the axis less the batch dimensions
    lead = x.shape[: p.batch_dims]
    xb = x.reshape(-1, *x.shape[p.batch_dims :])
    ib = idx.reshape(-1, *idx.shape[p.batch_dims :])
    parts = [np.take(xb[i], ib[i], axis=p.axis - p.batch_dims) for i in range(xb.shape[0])]
    return np.ascontiguousarray(np.stack(parts).reshape(*lead, *parts[0].shape))


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("params",), constant_ok=False)
    x = ins[0][1]
    y = ctx.act_tensor(op, op.outputs[0], "output")
    if (x.scale, x.zero_point) != (y.scale, y.zero_point):
        raise ctx.fail(op, "params and output quantization differ: TFLM's GATHER moves bytes, it does not requantize")
    raw = ctx.t(op.inputs[1])
    if raw.dtype != "int32":
        raise ctx.fail(op, f"indices {raw.describe()} are {raw.dtype}: TFLM's GATHER takes int32 indices only")
    values = ctx.const_values(op, op.inputs[1])
    idx = None if values is None else np.asarray(values, np.int64).reshape(raw.shape)
    o = op.options
    p = checked(ctx, op, prepare, x.shape, idx, y.shape, int(o.get("axis", 0)), int(o.get("batch_dims", 0)))
    tables = {"indices": np.array(p.indices, np.int32)}
    return make_layer(op, "gather", p, ins, y, skip=("axis", "batch_dims", "index_shape"), arrays=tables)


OPERATORS = (
    Operator(
        "gather",
        ("GATHER",),
        "cosim_gather_t",
        "cosim_gather_s8",
        "ops/gather.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
