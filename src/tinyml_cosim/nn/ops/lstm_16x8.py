"""UNIDIRECTIONAL_SEQUENCE_LSTM 16x8 (int16 activations, int8 weights, int64 biases, int16 cell), as tflite-micro's
reference kernel (EvalLstm<int16_t, int8_t, int16_t, int64_t>).

TFLM's int16 LSTM is its int8 one (nn/ops/lstm.py) with other types: the same Prepare (PrepareGateParametersInteger:
each gate's two FCs into Q3.12, the float32 scale product over 2^-12; the inter-gate multiplications; the cell's
clip and scale power), the same variants refused (CIFG, peephole, projection, layer norm: ValidateTensorStatus) and
the same gates, cell update and LUT sigmoid / tanh. What differs: the input, the hidden state and the output are
int16 (one type for the three, as TFLM checks), the biases int64 (the kernel reads them as int64_t whatever the file
says, so an int32 one is refused), each gate FC accumulates in int64 and requantizes with the 64-bit
MultiplyByQuantizedMultiplier (the multiplier's top 16 bits, one rounding shift: nn/ops/conv_16x8.py's `requantize`),
and the hidden state tanh(c) x o is requantized to int16 at the hidden state's scale and zero point. TFLM's reset
fills an int16 state with 0, not its zero point (nn/reference.py's initial_state).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops import lstm
from tinyml_cosim.nn.ops.base import Lowering, Operator
from tinyml_cosim.nn.ops.conv_16x8 import MAX_SHIFT_64, add_bias, requantize
from tinyml_cosim.nn.quant import I32
from tinyml_cosim.nn.tflite_reader import RawOperator

OP = "UNIDIRECTIONAL_SEQUENCE_LSTM"
INT16_RANGE = (-32768, 32767)


def prepare(
    shapes: tuple[tuple[int, ...], ...],
    time_major: bool,
    q: tuple[lstm.Quant, lstm.Quant, lstm.Quant],
    w_quant: list[lstm.Quant],
    cell_clip: float,
) -> lstm.LstmParams:
    """lstm.prepare (the same arguments and descriptor), refused where TFLM's 64-bit requantization of a gate FC is
    undefined: it shifts right by 15 - shift, so (input or hidden scale) x weight scale / 2^-12 must be below 2^14."""
    p = lstm.prepare(shapes, time_major, q, w_quant, cell_clip)
    worst = max(*p.in_shift, *p.rec_shift)
    if worst > MAX_SHIFT_64:
        raise BadInput(
            f"{OP}: a gate FC's (input or hidden scale) x weight scale / 2^-12 is 2^{worst - 1} or more: TFLM's 16x8 "
            f"LSTM requantizes its int64 accumulators for ratios below 2^{MAX_SHIFT_64}"
        )
    return p


def _fc16(x: I32, offset: int, w: np.ndarray, w_offset: int, q: tuple[int, int], bias: np.ndarray | None) -> I32:
    """An int16 FC into int16 at 2^-12: the exact int64 sum (each product below 2^24, as TFLM's int32 one), the
    int64 bias (wrapping), the 64-bit requantization, saturated."""
    acc = (x + offset) @ (w.astype(np.int64) + w_offset).T
    acc = add_bias(acc, None if bias is None else bias.astype(np.int64), None, False)
    return np.clip(requantize(acc, q[0], q[1], False), *INT16_RANGE)


def reference(layer: Layer, xs: Sequence[np.ndarray]) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    x, h, c = xs
    p: lstm.LstmParams = layer.prepared
    out, h_new, c_new = lstm.run(p, layer.consts, x, h, c, _fc16, INT16_RANGE)
    y = out.astype(np.int16).reshape((*x.shape[:2], p.n_cell))
    return y, {1: h_new.astype(np.int16).reshape(h.shape), 2: c_new.astype(np.int16).reshape(c.shape)}


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    raw_x, raw_h = ctx.t(op.inputs[0]), ctx.t(op.inputs[lstm.SLOT_HIDDEN])
    if raw_h.dtype != raw_x.dtype:  # ValidateTensorStatus: the hidden state becomes the recurrent FC's input
        raise ctx.fail(
            op,
            f"input {raw_x.describe()} is {raw_x.dtype}, expected {raw_h.dtype} as the hidden state "
            "(TFLM's LSTM takes one type for both: int8, or int16 for 16x8)",
        )
    for role, index in (
        ("input", op.inputs[0]),
        ("hidden state", op.inputs[lstm.SLOT_HIDDEN]),
        ("output", op.outputs[0]),
    ):
        raw = ctx.t(index)
        if len(raw.scales) != 1 or len(raw.zero_points) != 1 or not raw.scales[0] > 0:
            raise ctx.fail(op, f"{role} {raw.describe()} has no per-tensor quantization (one scale, one zero point)")
    return lstm.lower_lstm(ctx, op, "lstm_16x8", "int16", prepare)


OPERATORS = (
    Operator(
        "lstm_16x8",
        (OP,),
        "cosim_lstm_16x8_t",
        "cosim_lstm_16x8",
        "ops/lstm_16x8.h",
        lower,
        reference,
        lstm.scratch_bytes,
        input_dtype="int16",
    ),
)
