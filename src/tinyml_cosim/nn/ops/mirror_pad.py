"""MIRROR_PAD (int8, up to 4-D, constant paddings; REFLECT or SYMMETRIC), as TFLM's reference: each output
coordinate reads the input coordinate mirrored back inside the input (REFLECT excludes the edge, SYMMETRIC repeats
it). Prepare turns that into one table per dimension (output coordinate -> input element offset along it), so the
C kernel adds four table entries per element and moves bytes. TFLM requires each padding to be at most the
dimension (SYMMETRIC) or the dimension less one (REFLECT), and equal input and output quantization."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer
from tinyml_cosim.nn.tflite_reader import RawOperator

MODES = {0: "REFLECT", 1: "SYMMETRIC"}


@dataclass(frozen=True)
class MirrorPadParams:
    """cosim_mirror_pad_t: the output shape (4-D, leading 1s); `offsets` (emitted, pointed to) holds the four tables
    one after another"""

    out_shape: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]  # as in the model, for the numpy reference
    mode: str


def _mirror(i: int, n: int, symmetric: bool) -> int:
    if i < 0:
        return -i - 1 if symmetric else -i
    if i >= n:
        return 2 * n - i - 1 if symmetric else 2 * n - i - 2
    return i


def prepare(
    in_shape: tuple[int, ...], pads: np.ndarray, mode: int, out_shape: tuple[int, ...]
) -> tuple[MirrorPadParams, np.ndarray]:
    n = len(in_shape)
    if not 1 <= n <= 4 or pads.shape != (n, 2):
        raise BadInput(f"MIRROR_PAD: paddings of shape {list(pads.shape)} for a {n}-D input: want [{n}, 2], up to 4-D")
    if mode not in MODES:
        raise BadInput(f"MIRROR_PAD: mode {mode}: TFLM knows REFLECT (0) and SYMMETRIC (1)")
    symmetric = mode == 1
    for d, (before, after) in enumerate(pads.tolist()):
        limit = in_shape[d] if symmetric else in_shape[d] - 1
        if min(before, after) < 0 or max(before, after) > limit:
            raise BadInput(
                f"MIRROR_PAD: paddings {before}, {after} of axis {d} ({in_shape[d]}): each must lie in [0, {limit}]"
            )
    want = tuple(int(in_shape[d] + pads[d].sum()) for d in range(n))
    if tuple(out_shape) != want:
        raise BadInput(f"MIRROR_PAD: output shape {list(out_shape)}: the paddings make {list(want)}")
    shape4 = (1,) * (4 - n) + tuple(in_shape)
    pads4 = [(0, 0)] * (4 - n) + [tuple(int(v) for v in p) for p in pads.tolist()]
    strides = [int(np.prod(shape4[d + 1 :])) for d in range(4)]
    tables = [
        [_mirror(o - pads4[d][0], shape4[d], symmetric) * strides[d] for o in range(shape4[d] + sum(pads4[d]))]
        for d in range(4)
    ]
    out4 = tuple(len(t) for t in tables)
    params = MirrorPadParams(out4, tuple((int(a), int(b)) for a, b in pads.tolist()), MODES[mode])
    return params, np.array([v for t in tables for v in t], np.int32)


def reference(p: MirrorPadParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    return np.pad(x, p.pads, mode="reflect" if p.mode == "REFLECT" else "symmetric")


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    x = ctx.act_tensor(op, op.inputs[0], "input")
    y = ctx.act_tensor(op, op.outputs[0], "output")
    if (x.scale, x.zero_point) != (y.scale, y.zero_point):
        raise ctx.fail(op, "input and output quantization differ: TFLM's MIRROR_PAD moves bytes")
    pads = ctx.const_values(op, op.inputs[1]) if len(op.inputs) > 1 and op.inputs[1] >= 0 else None
    if pads is None or pads.dtype.kind not in "iu":
        raise ctx.fail(op, "paddings must be a constant int32 / int64 tensor")
    pads2 = np.asarray(pads).astype(np.int64)
    if pads2.size == 2 * len(x.shape):
        pads2 = pads2.reshape(-1, 2)
    p, offsets = checked(ctx, op, prepare, x.shape, pads2, int(op.options.get("mode", 0)), y.shape)
    layer = make_layer(op, "mirror_pad", p, [(x.id, x, None)], y, skip=("pads", "mode"), arrays={"offsets": offsets})
    layer.macs = 0  # a copy
    return layer


OPERATORS = (
    Operator(
        "mirror_pad",
        ("MIRROR_PAD",),
        "cosim_mirror_pad_t",
        "cosim_mirror_pad_s8",
        "ops/mirror_pad.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
