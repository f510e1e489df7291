"""CUSTOM:SignalWindow (TFLM's Signal library, signal/micro/kernels/window.cc): an int16 frame times an int16 window,
element by element, each product (int32) shifted right arithmetically by the option `shift`, saturated to int16.
The window (a constant [W] tensor) applies to each run of W consecutive input values.

Refused: a window that is not a constant (the converter always folds it), an input whose size is not a multiple of
the window's (TFLM's loop would read past the window), a shift outside 0..31 (a C shift of 32 or more is undefined).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, make_layer
from tinyml_cosim.nn.ops.signal_options import int_range, signal_options
from tinyml_cosim.nn.tflite_reader import RawOperator


@dataclass(frozen=True)
class SignalWindowParams:
    """cosim_signal_window_t"""

    size: int  # input elements
    window_size: int
    shift: int
    weights: npt.NDArray[np.int16]


def reference(p: SignalWindowParams, x: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    frames = x.astype(np.int64).reshape(-1, p.window_size)
    raw = (frames * p.weights.astype(np.int64)) >> p.shift
    return np.clip(raw, -32768, 32767).astype(np.int16).reshape(x.shape)


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise ctx.fail(op, f"{len(op.inputs)} inputs / {len(op.outputs)} outputs, expected 2 (input, weights) / 1")
    shift = int_range(ctx, op, "shift", signal_options(ctx, op, ("shift",))["shift"], 0, 31)
    x = ctx.act_tensor(op, op.inputs[0], "input", "int16")
    w_raw = ctx.t(op.inputs[1])
    weights = ctx.const_values(op, op.inputs[1])
    if weights is None or w_raw.dtype != "int16" or len(w_raw.shape) != 1:
        raise ctx.fail(op, f"weights {w_raw.describe()}: expected a constant int16 vector")
    y = ctx.act_tensor(op, op.outputs[0], "output", "int16")
    n = weights.size
    if n == 0 or x.elements % n or y.elements != x.elements or len(x.shape) != len(y.shape):
        raise ctx.fail(
            op, f"input {list(x.shape)}, weights [{n}], output {list(y.shape)}: expected the input a whole number "
            "of windows and the output of the input's shape"
        )  # fmt: skip
    p = SignalWindowParams(x.elements, n, shift, np.asarray(weights, np.int16).reshape(-1))
    return make_layer(op, "signal_window", p, [(x.id, x, None)], y, arrays={"weights": p.weights})


OPERATORS = (
    Operator(
        "signal_window",
        ("CUSTOM:SignalWindow",),
        "cosim_signal_window_t",
        "cosim_signal_window",
        "ops/signal_window.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
