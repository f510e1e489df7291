"""CUSTOM:SignalPCAN (TFLM's Signal library, signal/src/pcan_argc_fixed.cc): per-channel automatic gain control of
uint32 filter-bank channels by a noise estimate: gain = WideDynamicFunction(noise, gain_lut) (an int16 piecewise
quadratic over the noise's leading bit, from the 125-entry int16 table), snr = (channel * gain) >> snr_shift in
uint64, then PcanShrink (squared below 2 << 12, else linear) back to uint32.

As TFLM: the int16 gain widened to uint32 (a negative table value sign-extends), the quadratic in int32, the table
segment 4 * bit_length(noise) - 6 (noise 0, 1 and 2 read the table directly). Refused: a gain table that is not a
constant int16 vector of at least 125 entries (the segment of a noise of 32 bits reads entry 124), snr_shift outside
0..63, channels of different lengths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, make_layer
from tinyml_cosim.nn.ops.signal_options import int_range, signal_options
from tinyml_cosim.nn.tflite_reader import RawOperator

LUT_ENTRIES = 125  # 4 * 32 - 6 + 3: the last segment a 32-bit noise value reads
SNR_BITS, OUTPUT_BITS = 12, 6  # kPcanSnrBits, kPcanOutputBits


@dataclass(frozen=True)
class SignalPcanParams:
    """cosim_signal_pcan_t"""

    num_channels: int
    snr_shift: int
    gain_lut: npt.NDArray[np.int16]


def _i32(v: np.ndarray) -> np.ndarray:
    return ((v + 2**31) & 0xFFFFFFFF) - 2**31


def wide_dynamic(noise: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """WideDynamicFunction over uint32 values (held in int64): the int16 gains."""
    x = noise.astype(np.int64)
    lut64 = lut.astype(np.int64)
    interval = np.zeros_like(x)
    for b in range(32):  # bit length (the values here are above 2)
        interval += (x >> b) > 0
    seg = np.clip(4 * interval - 6, 0, lut64.size - 3)
    left = (x << np.maximum(11 - interval, 0)) & 0xFFFFFFFF
    frac = np.where(interval < 11, left, x >> np.maximum(interval - 11, 0)) & 0x3FF
    result = (lut64[seg + 2] * frac) >> 5
    result = _i32(result + _i32(lut64[seg + 1] << 5))
    result = _i32(result * frac)
    result = _i32(result + (1 << 14)) >> 15
    result = result + lut64[seg]
    direct = lut64[np.minimum(x, 2)]
    gains = np.where(x <= 2, direct, result)
    return ((gains + 32768) & 0xFFFF) - 32768


def reference(p: SignalPcanParams, x: npt.NDArray[np.uint32], noise: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    gain = wide_dynamic(noise.reshape(-1), p.gain_lut) & 0xFFFFFFFF  # int16 -> uint32, sign-extended
    snr = ((x.reshape(-1).astype(np.uint64) * gain.astype(np.uint64)) >> np.uint64(p.snr_shift)) & np.uint64(0xFFFFFFFF)
    small = (snr * snr) >> np.uint64(2 + 2 * SNR_BITS - OUTPUT_BITS)
    large = (snr >> np.uint64(SNR_BITS - OUTPUT_BITS)) - np.uint64(1 << OUTPUT_BITS)
    out = np.where(snr < np.uint64(2 << SNR_BITS), small, large) & np.uint64(0xFFFFFFFF)
    return out.astype(np.uint32).reshape(x.shape)


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    if len(op.inputs) != 3 or len(op.outputs) != 1:
        raise ctx.fail(op, f"{len(op.inputs)} inputs / {len(op.outputs)} outputs, expected 3 (input, noise, lut) / 1")
    shift = int_range(ctx, op, "snr_shift", signal_options(ctx, op, ("snr_shift",))["snr_shift"], 0, 63)
    x = ctx.act_tensor(op, op.inputs[0], "input", "uint32")
    noise = ctx.act_tensor(op, op.inputs[1], "noise estimate", "uint32")
    y = ctx.act_tensor(op, op.outputs[0], "output", "uint32")
    lut_raw, lut = ctx.t(op.inputs[2]), ctx.const_values(op, op.inputs[2])
    if lut is None or lut_raw.dtype != "int16" or len(lut_raw.shape) != 1 or lut.size < LUT_ENTRIES:
        raise ctx.fail(op, f"gain lut {lut_raw.describe()}: expected a constant int16 vector of {LUT_ENTRIES} entries")
    if len(x.shape) != 1 or noise.shape != x.shape or y.shape != x.shape:
        raise ctx.fail(
            op, f"input {list(x.shape)}, noise estimate {list(noise.shape)}, output {list(y.shape)}: expected "
            "uint32 [N] each"
        )  # fmt: skip
    p = SignalPcanParams(x.elements, shift, np.asarray(lut, np.int16).reshape(-1))
    ins = [(x.id, x, None), (noise.id, noise, None)]
    return make_layer(op, "signal_pcan", p, ins, y, arrays={"gain_lut": p.gain_lut})


OPERATORS = (
    Operator(
        "signal_pcan",
        ("CUSTOM:SignalPCAN",),
        "cosim_signal_pcan_t",
        "cosim_signal_pcan",
        "ops/signal_pcan.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
