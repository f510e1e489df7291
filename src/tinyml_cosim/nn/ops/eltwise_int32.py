"""ADD, SUB, MUL, DIV, MAXIMUM and MINIMUM of int32 tensors (no quantization: TFLM computes on the stored values),
up to 4-D broadcasting, as the pinned tflite-micro computes them: ADD wraps modulo 2^32 and ignores the fused
activation (its int32 Add clamps to the whole int32 range), SUB wraps then clamps to the fused activation's range
(SubWithActivation / BroadcastSubSlow), MUL wraps (WrappingMul) then clamps, DIV truncates toward zero then clamps,
MAXIMUM / MINIMUM compare. Either operand may be a constant (emitted to
flash); micro_speech's audio preprocessor scales its int16 log-mel features this way.

Refused: a DIV whose divisor is not a constant or holds a 0 (TFLM's division by 0 is undefined; a divisor of -1
negates, wrapping at -2^31 as the Cortex-M's SDIV does), a quantized int32 DIV (TFLM's Prepare refuses it), fused
activations TFLM's int32 range function does not know.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer, Tensor
from tinyml_cosim.nn.ops.base import Lowering, Operand, Operator, checked, make_layer
from tinyml_cosim.nn.ops.sub import ACTIVATIONS, MAX_DIMS, Shapes3, broadcast_layout
from tinyml_cosim.nn.tflite_reader import RawOperator

OPS = {"ADD": 0, "SUB": 1, "MUL": 2, "DIV": 3, "MAXIMUM": 4, "MINIMUM": 5}
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
RANGES = {"NONE": (INT32_MIN, INT32_MAX), "RELU": (0, INT32_MAX), "RELU6": (0, 6), "RELU_N1_TO_1": (-1, 1)}


@dataclass(frozen=True)
class EltwiseInt32Params:
    """cosim_eltwise_s32_t"""

    out_shape: tuple[int, ...]
    in1_strides: tuple[int, ...]
    in2_strides: tuple[int, ...]
    op: int
    act_min: int
    act_max: int


def prepare(op: str, shapes: Shapes3, activation: str = "NONE") -> EltwiseInt32Params:
    if activation not in ACTIVATIONS:
        raise BadInput(f"{op}: fused activation {activation}: TFLM's int32 {op} takes {', '.join(ACTIVATIONS)}")
    # TFLM's int32 ADD and SUB set the whole int32 range whatever the option; MUL and DIV take it
    lo, hi = RANGES[activation] if op in ("SUB", "MUL", "DIV") else RANGES["NONE"]
    return EltwiseInt32Params(*broadcast_layout(op, shapes), OPS[op], lo, hi)


def _wrap(x: np.ndarray) -> np.ndarray:
    return ((x - INT32_MIN) & 0xFFFFFFFF) + INT32_MIN


def _broadcast_4d(x: npt.NDArray[np.int32], out_shape: tuple[int, ...]) -> npt.NDArray[np.int64]:
    return np.broadcast_to(x.reshape((1,) * (MAX_DIMS - x.ndim) + x.shape), out_shape).astype(np.int64)


def reference(p: EltwiseInt32Params, a: npt.NDArray[np.int32], b: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    a4, b4 = _broadcast_4d(a, p.out_shape), _broadcast_4d(b, p.out_shape)
    if p.op == OPS["DIV"]:
        q = np.abs(a4) // np.abs(b4) * np.sign(a4) * np.sign(b4)  # C's division truncates toward zero
        raw = _wrap(q)  # -2^31 / -1 wraps to -2^31
    else:
        raw = {
            OPS["ADD"]: lambda: _wrap(a4 + b4),
            OPS["SUB"]: lambda: _wrap(a4 - b4),
            OPS["MUL"]: lambda: _wrap(a4 * b4),
            OPS["MAXIMUM"]: lambda: np.maximum(a4, b4),
            OPS["MINIMUM"]: lambda: np.minimum(a4, b4),
        }[p.op]()
    shape = np.broadcast_shapes(a.shape, b.shape)
    return np.clip(raw, p.act_min, p.act_max).astype(np.int32).reshape(shape)


def int32_operand(ctx: Lowering, op: RawOperator, index: int, role: str) -> Operand:
    """An int32 operand: an arena tensor, or a constant (emitted to flash as the array `<role>` of the layer)."""
    raw, values = ctx.t(index), ctx.const_values(op, index)  # a constant of the file, or one folded at compile time
    if values is None:
        x = ctx.act_tensor(op, index, role, "int32")
        return x.id, x, None
    if raw.dtype != "int32":
        raise ctx.fail(op, f"{role} {raw.describe()} is a {raw.dtype} constant, expected int32")
    const = Tensor(-1, raw.name, tuple(np.shape(values)), "int32", 1.0, 0)
    return role.replace(" ", "_"), const, np.asarray(values, np.int32)


def _lowering(name: str) -> Callable[[Lowering, RawOperator], Layer]:
    def lower(ctx: Lowering, op: RawOperator) -> Layer:
        if len(op.inputs) != 2 or len(op.outputs) != 1:
            raise ctx.fail(op, f"{len(op.inputs)} inputs / {len(op.outputs)} outputs, expected 2 / 1")
        ins = [int32_operand(ctx, op, i, r) for i, r in zip(op.inputs, ("input 1", "input 2"), strict=True)]
        if all(v is not None for _, _, v in ins):
            raise ctx.fail(op, "every input is a constant: fold it before conversion (nothing to compute at run time)")
        y = ctx.act_tensor(op, op.outputs[0], "output", "int32")
        if name == "DIV":
            divisor = ins[1][2]
            if divisor is None or not np.all(divisor != 0):
                raise ctx.fail(op, "the int32 divisor must be a constant without zeros (TFLM's x / 0 is undefined)")
            if any(ctx.t(i).scales for i in (*op.inputs, *op.outputs)):
                raise ctx.fail(op, "a quantized int32 DIV: TFLM takes int32 DIV without quantization only")
        act = op.options.get("activation", "NONE")
        p = checked(ctx, op, prepare, name, (ins[0][1].shape, ins[1][1].shape, y.shape), act)
        return make_layer(op, f"{name.lower()}_s32", p, ins, y)

    return lower


OPERATORS = tuple(
    Operator(
        f"{name.lower()}_s32",
        (name,),
        "cosim_eltwise_s32_t",
        "cosim_eltwise_s32",
        "ops/eltwise_int32.h",
        _lowering(name),
        lambda layer, xs: reference(layer.prepared, *xs),
        input_dtype="int32",
    )
    for name in OPS
)
