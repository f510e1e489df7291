"""CUSTOM:SignalFftAutoScale (TFLM's Signal library, signal/src/fft_auto_scale.cc): int16 [N] -> the input shifted
left by scale_bits (int16 [N], the product truncated to int16) and scale_bits itself (a scalar int32), the largest
shift that keeps the running maximum magnitude inside int16: 16 - bit_length(max) - 1, or 0.

TFLM's maximum magnitude is a running int16: |-32768| wraps to -32768 and any later larger value replaces it, so
the maximum depends on the order of the values; it is reproduced as such. Two kernel calls: the scale bits, then the
shift (a layer has one output).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, make_layer
from tinyml_cosim.nn.tflite_reader import RawOperator


@dataclass(frozen=True)
class SignalFftAutoScaleParams:
    """cosim_signal_fft_auto_scale_t"""

    size: int


def scale_bits(x: npt.NDArray[np.int16]) -> int:
    top = 0  # an int16, as TFLM's running maximum
    for v in x.reshape(-1).tolist():
        if v > top:
            top = v
        elif -v > top:
            top = -32768 if v == -32768 else -v
    msb = (top & 0xFFFFFFFF).bit_length() if top else 32  # GCC's MostSignificantBit32(0) is 32
    return max(16 - msb - 1, 0)


def reference_bits(p: SignalFftAutoScaleParams, x: npt.NDArray[np.int16]) -> npt.NDArray[np.int32]:
    return np.array(scale_bits(x), np.int32)


def reference_shift(p: SignalFftAutoScaleParams, x: npt.NDArray[np.int16], bits: np.ndarray) -> np.ndarray:
    shift = int(np.asarray(bits).reshape(-1)[0])
    return (x.astype(np.int64) * (1 << shift)).astype(np.int16)  # truncated to 16 bits, as TFLM's int16 store


def lower(ctx: Lowering, op: RawOperator) -> list[Layer]:
    if len(op.inputs) != 1 or len(op.outputs) != 2:
        raise ctx.fail(op, f"{len(op.inputs)} inputs / {len(op.outputs)} outputs, expected 1 / 2 (output, scale bits)")
    x = ctx.act_tensor(op, op.inputs[0], "input", "int16")
    y = ctx.act_tensor(op, op.outputs[0], "output", "int16")
    bits = ctx.act_tensor(op, op.outputs[1], "scale bits", "int32")
    if len(x.shape) != 1 or y.shape != x.shape or bits.shape != ():
        raise ctx.fail(
            op, f"input {list(x.shape)}, outputs {list(y.shape)} / {list(bits.shape)}: expected int16 [N], "
            "int16 [N] and a scalar int32"
        )  # fmt: skip
    p = SignalFftAutoScaleParams(x.elements)
    return [
        make_layer(op, "signal_fft_auto_scale_bits", p, [(x.id, x, None)], bits),
        make_layer(op, "signal_fft_auto_scale", p, [(x.id, x, None), (bits.id, bits, None)], y),
    ]


OPERATORS = (
    Operator(
        "signal_fft_auto_scale_bits",
        ("CUSTOM:SignalFftAutoScale",),
        "cosim_signal_fft_auto_scale_t",
        "cosim_signal_fft_auto_scale_bits",
        "ops/signal_fft_auto_scale.h",
        lower,
        lambda layer, xs: reference_bits(layer.prepared, *xs),
    ),
    Operator(  # the second call of the same operator: no builtin of its own
        "signal_fft_auto_scale",
        (),
        "cosim_signal_fft_auto_scale_t",
        "cosim_signal_fft_auto_scale",
        "ops/signal_fft_auto_scale.h",
        lower,
        lambda layer, xs: reference_shift(layer.prepared, *xs),
    ),
)
