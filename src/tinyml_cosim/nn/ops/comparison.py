"""EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL (int8 inputs, up to 4-D broadcasting, bool output),
as TFLM's reference ComparisonWithScaling.

Prepare (ComparisonsPrepare): each input's own *scale* (not a ratio of scales) through
QuantizeMultiplierSmallerThanOneExp, which aborts unless the scale is in (0, 1): refused here. Eval: each input
(value - zero point) << 8, times its multiplier (MultiplyByQuantizedMultiplierSmallerThanOneExp), then the integer
comparison. The output is a bool tensor: one byte per element, 0 or 1, in the arena.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer, operands, q
from tinyml_cosim.nn.ops.sub import Shapes3, broadcast_4d, broadcast_layout
from tinyml_cosim.nn.quant import f32, mbqm, quantize_multiplier
from tinyml_cosim.nn.tflite_reader import RawOperator

LEFT_SHIFT = 8  # ComparisonsPrepare's kLeftShift for int8
COMPARE: dict[str, Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], npt.NDArray[np.bool_]]] = {
    "EQUAL": np.equal,
    "NOT_EQUAL": np.not_equal,
    "LESS": np.less,
    "LESS_EQUAL": np.less_equal,
    "GREATER": np.greater,
    "GREATER_EQUAL": np.greater_equal,
}


@dataclass(frozen=True)
class ComparisonParams:
    """cosim_comparison_t: output shape, element strides of each input per output dimension (0 = broadcast),
    each input's offset and multiplier of its scale"""

    out_shape: tuple[int, ...]
    in1_strides: tuple[int, ...]
    in2_strides: tuple[int, ...]
    in1_offset: int
    in2_offset: int
    left_shift: int
    in1_mult: int
    in1_shift: int
    in2_mult: int
    in2_shift: int


def scale_multiplier(op: str, what: str, scale: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp of an input's scale (in double, from the file's float32)."""
    mult, shift = quantize_multiplier(f32(scale))
    if not 0.0 < f32(scale) < 1.0 or shift > 0:
        raise BadInput(f"{op}: {what} scale {scale:.6g}: TFLM's int8 {op} needs it in (0, 1) (it aborts otherwise)")
    return mult, shift


def prepare(op: str, shapes: Shapes3, quant: tuple[tuple[float, int], tuple[float, int]]) -> ComparisonParams:
    """`shapes`: input 1, input 2, output; `quant`: (scale, zero point) of each input."""
    (s1, z1), (s2, z2) = quant
    if tuple(shapes[0]) == tuple(shapes[1]) == tuple(shapes[2]):  # TFLM's element-wise path: any rank
        n = int(np.prod(shapes[2], dtype=np.int64))
        layout = broadcast_layout(op, ((n,), (n,), (n,)))
    else:
        layout = broadcast_layout(op, shapes)
    m1, m2 = scale_multiplier(op, "input 1", s1), scale_multiplier(op, "input 2", s2)
    return ComparisonParams(*layout, -z1, -z2, LEFT_SHIFT, *m1, *m2)


def scaled(x: npt.NDArray[np.int64], offset: int, left_shift: int, mult: int, shift: int) -> npt.NDArray[np.int64]:
    """An input value in the comparison's common domain (no int32 overflow: |x + offset| < 2^9, << 8)."""
    return mbqm((x + offset) << left_shift, mult, shift)


def reference(op: str, p: ComparisonParams, a: npt.NDArray[np.int8], b: npt.NDArray[np.int8]) -> npt.NDArray[np.bool_]:
    same = a.shape == b.shape  # laid out flat by prepare
    a4 = broadcast_4d(a.reshape(-1) if same else a, p.out_shape)
    b4 = broadcast_4d(b.reshape(-1) if same else b, p.out_shape)
    va = scaled(a4, p.in1_offset, p.left_shift, p.in1_mult, p.in1_shift)
    vb = scaled(b4, p.in2_offset, p.left_shift, p.in2_mult, p.in2_shift)
    shape = a.shape if same else np.broadcast_shapes(a.shape, b.shape)
    return COMPARE[op](va, vb).reshape(shape)


def _lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("input 1", "input 2"))
    (_, a, _), (_, b, _) = ins
    y = ctx.act_tensor(op, op.outputs[0], "output", "bool")
    p = checked(ctx, op, prepare, op.name, (a.shape, b.shape, y.shape), (q(a), q(b)))
    return make_layer(op, op.name.lower(), p, ins, y)


OPERATORS = tuple(
    Operator(
        name.lower(),
        (name,),
        "cosim_comparison_t",
        f"cosim_{name.lower()}_s8",
        "ops/comparison.h",
        _lower,
        lambda layer, xs: reference(layer.op_name, layer.prepared, *xs),
    )
    for name in COMPARE
)
