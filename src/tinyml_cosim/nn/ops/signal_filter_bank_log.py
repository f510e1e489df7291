"""CUSTOM:SignalFilterBankLog (TFLM's Signal library, signal/src/filter_bank_log.cc and log.cc): each uint32 channel
shifted left by input_correction_bits (uint32, wrapping), then, when above 1, its natural log in fixed point times
output_scale (TFLM's Log32: log2 from the leading bit and a 129-entry interpolation table, times 45426 / 2^16 with
rounding, times output_scale / 2^16 with rounding, in uint32 arithmetic), saturated at 32767; 0 otherwise.

Refused: input_correction_bits outside 0..31 (a C shift), shapes other than uint32 [N] -> int16 [N].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, make_layer
from tinyml_cosim.nn.ops.signal_options import int_range, signal_options
from tinyml_cosim.nn.tflite_reader import RawOperator

# log2(1 + f) - f in 1/65536, sampled at f = k / 128 (TFLM's kLogLut, the values of the function, tabulated here)
LOG_LUT = np.array(
    [0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797, 2944, 3087, 3224, 3358,
     3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714, 4791, 4864, 4934, 5001, 5063, 5123,
     5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507, 5533, 5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640, 5641,
     5638, 5633, 5626, 5615, 5602, 5586, 5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332, 5291, 5249, 5203, 5156,
     5106, 5054, 5000, 4944, 4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264, 4184, 4103, 4020, 3935, 3848,
     3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659, 2549, 2437, 2323, 2207, 2090, 1971, 1851,
     1729, 1605, 1480, 1353, 1224, 1094, 963, 830, 695, 559, 421, 282, 142, 0, 0],
    np.int64,
)  # fmt: skip
LOG_COEFF = 45426  # ln(2) in 1/65536
U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class SignalFilterBankLogParams:
    """cosim_signal_filter_bank_log_t"""

    channels: int
    input_correction_bits: int
    output_scale: int  # int32, used as uint32 (as TFLM does)


def log32(x: npt.NDArray[np.int64], out_scale: int) -> npt.NDArray[np.int64]:
    """TFLM's Log32 of x > 1 (uint32 values held as int64), in its uint32 arithmetic."""
    integer = sum(((x >> k) != 0).astype(np.int64) for k in range(1, 33))  # the leading bit's position
    frac = x - (np.int64(1) << integer)
    frac = np.where(integer < 16, frac << np.maximum(16 - integer, 0), frac >> np.maximum(integer - 16, 0))
    seg = frac >> 9
    c0, c1 = LOG_LUT[seg], LOG_LUT[seg + 1]
    fraction = (frac + c0 + (((c1 - c0) * (frac - 512 * seg)) >> 16)) & U32
    log2 = ((integer << 16) + fraction) & U32
    loge = ((LOG_COEFF * log2 + 32768) >> 16) & U32
    return (((((out_scale & U32) * loge) & U32) + 32768) & U32) >> 16


def reference(p: SignalFilterBankLogParams, x: npt.NDArray[np.uint32]) -> npt.NDArray[np.int16]:
    scaled = (x.astype(np.int64) << p.input_correction_bits) & U32
    safe = np.where(scaled > 1, scaled, 2)
    value = np.minimum(log32(safe, p.output_scale), 32767)
    return np.where(scaled > 1, value, 0).astype(np.int16)


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise ctx.fail(op, f"{len(op.inputs)} inputs / {len(op.outputs)} outputs, expected 1 / 1")
    opts = signal_options(ctx, op, ("input_correction_bits", "output_scale"))
    bits = int_range(ctx, op, "input_correction_bits", opts["input_correction_bits"], 0, 31)
    scale = int_range(ctx, op, "output_scale", opts["output_scale"], -(2**31), 2**31 - 1)
    x = ctx.act_tensor(op, op.inputs[0], "input", "uint32")
    y = ctx.act_tensor(op, op.outputs[0], "output", "int16")
    if len(x.shape) != 1 or len(y.shape) != 1 or x.elements != y.elements:
        raise ctx.fail(op, f"input {list(x.shape)}, output {list(y.shape)}: expected uint32 [N] and int16 [N]")
    p = SignalFilterBankLogParams(x.elements, bits, scale)
    return make_layer(op, "signal_filter_bank_log", p, [(x.id, x, None)], y)


OPERATORS = (
    Operator(
        "signal_filter_bank_log",
        ("CUSTOM:SignalFilterBankLog",),
        "cosim_signal_filter_bank_log_t",
        "cosim_signal_filter_bank_log",
        "ops/signal_filter_bank_log.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
