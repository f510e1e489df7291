"""CUSTOM:SignalFilterBankSpectralSubtraction (TFLM's Signal library, signal/src/filter_bank_spectral_subtraction.cc):
a running noise estimate per channel (uint32, smoothed with even / odd channel coefficients), subtracted from each
uint32 channel, never below min_signal_remaining of it. Outputs: the subtracted channels and the new estimate.

The estimate is state: TFLM keeps it in the kernel's persistent buffer (zeroed by Prepare and by the interpreter's
Reset, carried from invocation to invocation) and copies it to the second output each time. Here the second output
tensor itself is the state, planned for the whole run and zeroed by cosim_model_reset: the file does not mark it
variable (TFLM needs no variable tensor for it), so the lowering marks it, and the model is checked as a stateful
one (the inputs in a row on one interpreter).

Arithmetic as TFLM's: the channel shifted left by smoothing_bits in uint32 (wrapping), the estimate's update in
uint64 ((scaled * smoothing + estimate * (1 - smoothing)) >> spectral_subtraction_bits, stored to uint32), the
estimate capped at the scaled channel (kept capped when clamping), the floor in uint64, the subtraction in uint32.
Refused: shifts TFLM would take undefinedly (smoothing_bits outside 0..31, spectral_subtraction_bits outside 0..63),
num_channels other than the tensors' length (TFLM would read or copy past them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, make_layer
from tinyml_cosim.nn.ops.signal_options import int_range, signal_options
from tinyml_cosim.nn.tflite_reader import RawOperator

KEYS = (
    "alternate_one_minus_smoothing",
    "alternate_smoothing",
    "clamping",
    "min_signal_remaining",
    "num_channels",
    "one_minus_smoothing",
    "smoothing",
    "smoothing_bits",
    "spectral_subtraction_bits",
)
COEFFICIENTS = KEYS[:2] + KEYS[3:4] + KEYS[5:7]  # read as int32, used as uint32 (TFLM's config fields)


@dataclass(frozen=True)
class SignalSpectralSubtractionParams:
    """cosim_signal_spectral_subtraction_t (the coefficients' int32 bits, used as uint32)"""

    num_channels: int
    smoothing: int
    one_minus_smoothing: int
    alternate_smoothing: int
    alternate_one_minus_smoothing: int
    min_signal_remaining: int
    smoothing_bits: int
    spectral_subtraction_bits: int
    clamping: int


def _u32(v: int) -> np.uint64:
    return np.uint64(v & 0xFFFFFFFF)


def reference(
    p: SignalSpectralSubtractionParams, x: npt.NDArray[np.uint32], noise: npt.NDArray[np.uint32]
) -> tuple[npt.NDArray[np.uint32], dict[int, np.ndarray]]:
    """(the subtracted channels, {1: the new noise estimate})."""
    mask = np.uint64(0xFFFFFFFF)
    signal = x.reshape(-1).astype(np.uint64)
    even = np.arange(signal.size) % 2 == 0
    smoothing = np.where(even, _u32(p.smoothing), _u32(p.alternate_smoothing))
    one_minus = np.where(even, _u32(p.one_minus_smoothing), _u32(p.alternate_one_minus_smoothing))
    scaled = (signal << np.uint64(p.smoothing_bits)) & mask
    bits = np.uint64(p.spectral_subtraction_bits)
    # uint64 products and their sum wrap as C's (numpy's uint64 array arithmetic wraps too)
    estimate = ((scaled * smoothing + noise.reshape(-1).astype(np.uint64) * one_minus) >> bits) & mask
    capped = np.minimum(estimate, scaled)
    new_noise = capped if p.clamping else estimate
    floor = ((signal * _u32(p.min_signal_remaining)) >> bits) & mask
    subtracted = (scaled - capped) >> np.uint64(p.smoothing_bits)
    out = np.maximum(subtracted, floor).astype(np.uint32)
    return out.reshape(x.shape), {1: new_noise.astype(np.uint32)}


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    if len(op.inputs) != 1 or len(op.outputs) != 2:
        raise ctx.fail(op, f"{len(op.inputs)} inputs / {len(op.outputs)} outputs, expected 1 / 2 (output, noise)")
    o = signal_options(ctx, op, KEYS)
    int_range(ctx, op, "smoothing_bits", o["smoothing_bits"], 0, 31)
    int_range(ctx, op, "spectral_subtraction_bits", o["spectral_subtraction_bits"], 0, 63)
    for key in COEFFICIENTS:
        int_range(ctx, op, key, o[key], -(2**31), 2**31 - 1)
    x = ctx.act_tensor(op, op.inputs[0], "input", "uint32")
    y = ctx.act_tensor(op, op.outputs[0], "output", "uint32")
    raw_noise = ctx.t(op.outputs[1])
    n = o["num_channels"]
    shapes = [list(t.shape) for t in (x, y, raw_noise)]
    if any(s != [n] for s in shapes) or raw_noise.dtype != "uint32":
        raise ctx.fail(
            op, f"input / output / noise estimate {shapes[0]} / {shapes[1]} / {shapes[2]} ({raw_noise.dtype}): "
            f"expected uint32 [num_channels] = [{n}] each"
        )  # fmt: skip
    # TFLM's persistent estimate, kept here in the second output tensor: a state tensor (see the module docstring)
    raw_noise.variable = True
    noise = ctx.state_tensor(op, op.outputs[1], "noise estimate", "uint32")
    p = SignalSpectralSubtractionParams(
        n, o["smoothing"], o["one_minus_smoothing"], o["alternate_smoothing"], o["alternate_one_minus_smoothing"],
        o["min_signal_remaining"], o["smoothing_bits"], o["spectral_subtraction_bits"], o["clamping"] & 1,
    )  # fmt: skip
    return make_layer(op, "signal_spectral_subtraction", p, [(x.id, x, None), (noise.id, noise, None)], y)


OPERATORS = (
    Operator(
        "signal_spectral_subtraction",
        ("CUSTOM:SignalFilterBankSpectralSubtraction",),
        "cosim_signal_spectral_subtraction_t",
        "cosim_signal_spectral_subtraction",
        "ops/signal_filter_bank_spectral_subtraction.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
