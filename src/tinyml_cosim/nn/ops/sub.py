"""SUB (int8, up to 4-D broadcasting), as TFLM's reference integer Sub.

Prepare (CalculateOpDataSub): both inputs are brought to a common domain shifted left by 20 bits, each scaled by
its scale over twice the larger input scale; the difference is requantized by twice the larger input scale over
(2^20 * output scale). Every ratio is computed in double from the float32 scales, as TFLM does, and all three
multipliers go through QuantizeMultiplierSmallerThanOneExp, which aborts for a ratio of 1 or more: refused here.
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
    make_layer,
    operands,
    q,
)
from tinyml_cosim.nn.quant import activation_range, f32, mbqm, quantize_multiplier, wrap32
from tinyml_cosim.nn.tflite_reader import RawOperator

LEFT_SHIFT = 20  # int8; TFLM uses 15 for int16
MAX_DIMS = 4
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


@dataclass(frozen=True)
class SubParams:
    """cosim_sub_t: output shape, element strides of each input per output dimension (0 = broadcast), quantization"""

    out_shape: tuple[int, ...]
    in1_strides: tuple[int, ...]
    in2_strides: tuple[int, ...]
    in1_offset: int
    in2_offset: int
    out_offset: int
    left_shift: int
    in1_mult: int
    in1_shift: int
    in2_mult: int
    in2_shift: int
    out_mult: int
    out_shift: int
    act_min: int
    act_max: int


def _smaller_than_one(what: str, real: float) -> tuple[int, int]:
    mult, shift = quantize_multiplier(real)
    if not 0.0 < real < 1.0 or shift > 0:
        raise BadInput(f"SUB: {what} multiplier {real:.6g}: TFLM's int8 SUB needs it in (0, 1) (scales too far apart)")
    return mult, shift


def broadcast_strides(op: str, shape: tuple[int, ...], out: tuple[int, ...]) -> tuple[int, ...]:
    """Element strides of `shape` per dimension of the 4-D `out` (0 where it is broadcast)."""
    s = (1,) * (MAX_DIMS - len(shape)) + tuple(shape)
    contiguous = [1] * MAX_DIMS
    for d in range(MAX_DIMS - 2, -1, -1):
        contiguous[d] = contiguous[d + 1] * s[d + 1]
    for d in range(MAX_DIMS):
        if s[d] not in (1, out[d]):
            raise BadInput(f"{op}: input shape {list(shape)} does not broadcast to the output {list(out)}")
    return tuple(0 if s[d] == 1 and out[d] != 1 else contiguous[d] for d in range(MAX_DIMS))


def broadcast_shape(op: str, a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return tuple(int(d) for d in np.broadcast_shapes(a, b))
    except ValueError:
        raise BadInput(f"{op}: input shapes {list(a)} and {list(b)} do not broadcast") from None


Shapes3 = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]


def broadcast_layout(
    op: str, shapes: Shapes3, of: str = "the inputs'"
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The 4-D output shape and each input's element strides per output dimension (0 = broadcast) of a two-input
    element-wise operator, from the shapes of its inputs and output (`of`: how its messages name the inputs)."""
    if len(shapes[2]) > MAX_DIMS:
        raise BadInput(f"{op}: output rank {len(shapes[2])}: this compiler's {op} kernel broadcasts up to 4-D")
    if broadcast_shape(op, shapes[0], shapes[1]) != tuple(shapes[2]):
        raise BadInput(f"{op}: output shape {list(shapes[2])} is not the broadcast of {of} shapes")
    out4 = (1,) * (MAX_DIMS - len(shapes[2])) + tuple(shapes[2])
    return out4, broadcast_strides(op, shapes[0], out4), broadcast_strides(op, shapes[1], out4)


def broadcast_4d(x: npt.NDArray[np.int8], out_shape: tuple[int, ...]) -> npt.NDArray[np.int64]:
    """`x` as int64, broadcast to the 4-D `out_shape` (the references' view of what the kernels read)."""
    return np.broadcast_to(x.reshape((1,) * (MAX_DIMS - x.ndim) + x.shape), out_shape).astype(np.int64)


def prepare(
    shapes: Shapes3,
    quant: tuple[tuple[float, int], tuple[float, int], tuple[float, int]],
    activation: str = "NONE",
) -> SubParams:
    """`shapes` and `quant` ((scale, zero point)) of input 1, input 2 and the output."""
    if activation not in ACTIVATIONS:
        raise BadInput(f"SUB: fused_activation_function {activation}: TFLM's int8 SUB takes {', '.join(ACTIVATIONS)}")
    (s1, zp1), (s2, zp2), (so, zpo) = quant
    layout = broadcast_layout("SUB", shapes)
    # In double, from the float32 scales (as tflite-micro's CalculateOpDataSub: double twice_max_input_scale, ...);
    # float32 ratios differ at rounding ties (seen: scales 0.05 / 0.04 / 0.08, tests/test_models_multi_io.py).
    twice_max = 2.0 * max(f32(s1), f32(s2))
    m1 = _smaller_than_one("input 1", f32(s1) / twice_max)
    m2 = _smaller_than_one("input 2", f32(s2) / twice_max)
    mo = _smaller_than_one("output", twice_max / ((1 << LEFT_SHIFT) * f32(so)))
    lo, hi = activation_range(activation, so, zpo)
    return SubParams(
        *layout,
        -zp1,
        -zp2,
        zpo,
        LEFT_SHIFT,
        *m1,
        *m2,
        *mo,
        lo,
        hi,
    )


def reference(p: SubParams, a: npt.NDArray[np.int8], b: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    a4, b4 = broadcast_4d(a, p.out_shape), broadcast_4d(b, p.out_shape)
    sa = mbqm((a4 + p.in1_offset) << p.left_shift, p.in1_mult, p.in1_shift)
    sb = mbqm((b4 + p.in2_offset) << p.left_shift, p.in2_mult, p.in2_shift)
    raw = mbqm(wrap32(sa - sb), p.out_mult, p.out_shift) + p.out_offset
    return np.clip(raw, p.act_min, p.act_max).astype(np.int8).reshape(np.broadcast_shapes(a.shape, b.shape))


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("input 1", "input 2"))
    (_, a, _), (_, b, _) = ins
    y = ctx.act_tensor(op, op.outputs[0], "output")
    p = checked(ctx, op, prepare, (a.shape, b.shape, y.shape), (q(a), q(b), q(y)), op.options.get("activation", "NONE"))
    return make_layer(op, "sub", p, ins, y)


OPERATORS = (
    Operator(
        "sub",
        ("SUB",),
        "cosim_sub_t",
        "cosim_sub_s8",
        "ops/sub.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
