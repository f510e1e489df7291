"""PAD and PADV2 (int8 and int16, up to 4-D, constant paddings), as TFLM's reference Pad: the input copied into a box
of the pad value: PADV2's constant value when it has one, else the output's zero point for int8 and 0 for int16 (TFLM's
int16 PAD ignores the zero point: int16 zero points are 0 where its converter makes them). The bytes move unchanged,
so a model whose input and output quantization differ is refused, as are negative paddings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer
from tinyml_cosim.nn.tflite_reader import RawOperator


@dataclass(frozen=True)
class PadParams:
    """cosim_pad_t: 4-D shapes (leading 1s)"""

    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    pad_before: tuple[int, ...]
    pad_value: int


def _shape4(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (1,) * (4 - len(shape)) + tuple(shape)


def prepare(in_shape: tuple[int, ...], out_shape: tuple[int, ...], pads: np.ndarray, value: int) -> PadParams:
    if len(in_shape) > 4 or pads.shape[0] != len(in_shape):
        raise BadInput("PAD is supported up to 4-D with one (before, after) pair per dimension")
    lead = 4 - len(in_shape)
    before = [0] * lead + [int(p) for p in pads[:, 0]]
    after = [0] * lead + [int(p) for p in pads[:, 1]]
    if min(before + after) < 0:
        raise BadInput("negative padding is not supported")
    return PadParams(_shape4(in_shape), _shape4(out_shape), tuple(before), value)


def reference(p: PadParams, x: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    out = np.full(p.out_shape, p.pad_value, x.dtype)
    b, s = p.pad_before, p.in_shape
    out[b[0] : b[0] + s[0], b[1] : b[1] + s[1], b[2] : b[2] + s[2], b[3] : b[3] + s[3]] = x.reshape(s)
    return out


def _lowering(kind: str, dtype: str) -> Callable[[Lowering, RawOperator], Layer]:
    def lower(ctx: Lowering, op: RawOperator) -> Layer:
        x = ctx.act_tensor(op, op.inputs[0], "input", dtype)
        y = ctx.act_tensor(op, op.outputs[0], "output", dtype)
        pads = ctx.const_values(op, op.inputs[1]) if len(op.inputs) > 1 and op.inputs[1] >= 0 else None
        if pads is None or pads.dtype.kind not in "iu":
            raise ctx.fail(op, "paddings must be a constant int32 tensor")
        if x.scale != y.scale or x.zero_point != y.zero_point:
            raise ctx.fail(op, f"{dtype} PAD needs equal input and output quantization")
        value = y.zero_point if dtype == "int8" else 0
        if op.name == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
            v = ctx.const_values(op, op.inputs[2])
            if v is None or v.dtype != np.dtype(dtype) or v.size != 1:
                raise ctx.fail(op, f"constant value {ctx.t(op.inputs[2]).describe()} must be one {dtype} constant")
            cv = ctx.t(op.inputs[2])
            if dtype == "int8" and (list(cv.scales)[:1], list(cv.zero_points)[:1]) != ([y.scale], [y.zero_point]):
                # TFLM's PadPrepare: an int8 constant value in the output's quantization, else it fails to prepare
                raise ctx.fail(op, f"constant value {cv.describe()}: TFLM needs the output's scale and zero point")
            value = int(v.reshape(-1)[0])
        p = checked(ctx, op, prepare, x.shape, y.shape, np.asarray(pads).reshape(-1, 2).astype(int), value)
        layer = make_layer(op, kind, p, [(x.id, x, None)], y)
        layer.macs = 0  # a copy: no arithmetic
        return layer

    return lower


OPERATORS = (
    Operator(
        "pad",
        ("PAD", "PADV2"),
        "cosim_pad_t",
        "cosim_pad_s8",
        "ops/pad.h",
        _lowering("pad", "int8"),
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
    Operator(  # the int16 activations of a 16x8 model
        "pad_s16",
        ("PAD", "PADV2"),
        "cosim_pad_t",
        "cosim_pad_s16",
        "ops/pad.h",
        _lowering("pad_s16", "int16"),
        lambda layer, xs: reference(layer.prepared, *xs),
        input_dtype="int16",
    ),
)
