"""CUSTOM:SignalFilterBankSquareRoot (TFLM's Signal library, signal/src/filter_bank_square_root.cc): each uint64
channel's integer square root (TFLM's Sqrt64: bit by bit, rounded up when the remainder exceeds the root; through
its 16-bit Sqrt32 when the upper word is clear) shifted right by the scalar int32 `scale_bits` (the FFT's auto
scale, an arena tensor or a constant).

A scale_bits outside 0..31 at run time (C leaves that shift undefined; the FFT's auto scale gives 0..15) makes the
channel 0 here. Refused: a constant scale_bits outside 0..31, shapes other than uint64 [N] -> uint32 [N].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.nn.ir import Layer, Tensor
from tinyml_cosim.nn.ops.base import Lowering, Operand, Operator, make_layer
from tinyml_cosim.nn.tflite_reader import RawOperator


@dataclass(frozen=True)
class SignalFilterBankSquareRootParams:
    """cosim_signal_filter_bank_square_root_t"""

    channels: int


def _isqrt_bits(num: int, width: int) -> int:
    """TFLM's SqrtNN of num > 0 in a `width`-bit word: the root, plus one when the remainder exceeds it."""
    res, leading = 0, width - num.bit_length()
    leading |= 1
    bit = 1 << (width - 1 - leading)
    for _ in range((width - 1 - leading) // 2 + 1):
        if num >= res + bit:
            num -= res + bit
            res = (res >> 1) + bit
        else:
            res >>= 1
        bit >>= 2
    top = (1 << (width // 2)) - 1
    return res + 1 if num > res and res != top else res


def sqrt64(num: int) -> int:
    if num == 0:
        return 0
    return _isqrt_bits(num, 32) if num >> 32 == 0 else _isqrt_bits(num, 64)


def reference(p: SignalFilterBankSquareRootParams, x: npt.NDArray[np.uint64], bits: np.ndarray) -> np.ndarray:
    shift = int(np.asarray(bits).reshape(-1)[0])
    roots = [sqrt64(int(v)) >> shift if 0 <= shift <= 31 else 0 for v in x.reshape(-1)]
    return np.array(roots, np.uint32)


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise ctx.fail(op, f"{len(op.inputs)} inputs / {len(op.outputs)} outputs, expected 2 (input, scale_bits) / 1")
    x = ctx.act_tensor(op, op.inputs[0], "input", "uint64")
    y = ctx.act_tensor(op, op.outputs[0], "output", "uint32")
    if len(x.shape) != 1 or len(y.shape) != 1 or x.elements != y.elements:
        raise ctx.fail(op, f"input {list(x.shape)}, output {list(y.shape)}: expected uint64 [N] and uint32 [N]")
    raw = ctx.t(op.inputs[1])
    if raw.dtype != "int32" or raw.shape != ():
        raise ctx.fail(op, f"scale_bits {raw.describe()}: expected a scalar int32")
    values = ctx.const_values(op, op.inputs[1])
    bits: Operand
    if values is None:
        b = ctx.act_tensor(op, op.inputs[1], "scale_bits", "int32")
        bits = (b.id, b, None)
    else:
        shift = int(np.asarray(values).reshape(-1)[0])
        if not 0 <= shift <= 31:
            raise ctx.fail(op, f"scale_bits {shift}: supported are 0..31")
        bits = ("scale_bits", Tensor(-1, raw.name, (), "int32", 1.0, 0), np.asarray([shift], np.int32))
    p = SignalFilterBankSquareRootParams(x.elements)
    return make_layer(op, "signal_filter_bank_square_root", p, [(x.id, x, None), bits], y)


OPERATORS = (
    Operator(
        "signal_filter_bank_square_root",
        ("CUSTOM:SignalFilterBankSquareRoot",),
        "cosim_signal_filter_bank_square_root_t",
        "cosim_signal_filter_bank_square_root",
        "ops/signal_filter_bank_square_root.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
