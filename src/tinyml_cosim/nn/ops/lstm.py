"""UNIDIRECTIONAL_SEQUENCE_LSTM int8 (8-bit activations and weights, 16-bit cell), as tflite-micro's reference kernel.

TFLM runs the standard (Keras) LSTM only: all four gates (no CIFG), no peepholes, no projection, no layer
normalisation; the cell gate's activation is TANH (what converters write; anything else asserts in TFLM). TFLM reads
neither the intermediates a converter adds nor proj_clip, asymmetric_quantize_inputs (hybrid kernels only) and
diagonal_recurrent_tensors: they are accepted and ignored here too.

Prepare (PrepareGateParametersInteger): each gate is FC(x) + FC(h) into int16 at the fixed scale 2^-12 (Q3.12),
each FC with its own multiplier (input scale x weight scale, the product in float32, over 2^-12), the bias on the
input FC only; the two saturate to int16 and add saturating. Gates go through the int16 LUT sigmoid, the cell gate
through the LUT tanh, all outputs in Q0.15 (2^-15). The cell update multiplies f x c (2^-15) and i x g (2^-30 over
the cell scale) back to int16, adds saturating and clips to the quantized cell_clip when it is > 0. The hidden state
is tanh(c) x o requantized to the hidden state's scale and zero point (its int8 tensor: the output copies it);
tanh(c) reads c at the cell scale's rounded log2 (CheckedLog2, whose exactness TFLM does not check).
Time-major input runs every batch row per step; batch-major input runs each batch's sequence in turn.
The 16x8 LSTM (nn/ops/lstm_16x8.py) is this one with other types: it shares prepare, lower_lstm and run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer
from tinyml_cosim.nn.ops.sigmoid16 import sigmoid16_lut, tanh16_lut
from tinyml_cosim.nn.quant import I32, f32, mbqm, quantize_multiplier, tflite_round, wrap32
from tinyml_cosim.nn.tflite_reader import RawOperator, RawTensor

GATES = ("input", "forget", "cell", "output")  # lstm_shared.h's order of the weights and biases
GATE_SCALE = 2.0**-12  # every gate's FC output (Q3.12)
ACT_SCALE = 2.0**-15  # every gate's activation output (Q0.15)
# Optional inputs of the LSTM variants TFLM's int8 kernel refuses, by input slot
VARIANT_SLOTS = {"peephole": (9, 10, 11), "projection": (16, 17), "layer normalisation": (20, 21, 22, 23)}
SLOT_HIDDEN, SLOT_CELL = 18, 19


@dataclass(frozen=True)
class LstmParams:
    """cosim_lstm_t: shapes, per-gate FC requantization (in GATES order), the cell and hidden updates"""

    time_major: int
    batch: int
    time_steps: int
    n_input: int
    n_cell: int
    input_offset: int  # -(input zero point)
    hidden_offset: int  # -(hidden state zero point): the recurrent FC's input offset
    in_w_offset: tuple[int, ...]  # -(weights zero point), input FC of each gate
    rec_w_offset: tuple[int, ...]  # recurrent FC of each gate
    in_mult: tuple[int, ...]
    in_shift: tuple[int, ...]
    rec_mult: tuple[int, ...]
    rec_shift: tuple[int, ...]
    forget_mult: int  # f x c -> c
    forget_shift: int
    input_mult: int  # i x g -> c
    input_shift: int
    hidden_mult: int  # tanh(c) x o -> h
    hidden_shift: int
    hidden_zp: int
    cell_clip: int  # quantized |c| bound; 0: no clipping
    tanh_mult: int  # tanh(c) reads (c * tanh_mult + round) >> tanh_rshift in Q3.12 (times 3: the LUT's scale)
    tanh_rshift: int

    @property
    def rows(self) -> int:
        """Batch rows computed per step: all of them for time-major input, one otherwise."""
        return self.batch if self.time_major else 1


def _fc_multiplier(s_in: float, s_w: float) -> tuple[int, int]:
    # GetQuantizedConvolutionMultipler: the scale product in float32, the ratio to 2^-12 in double
    return quantize_multiplier(f32(np.float32(s_in) * np.float32(s_w)) / GATE_SCALE)


def _mul_multiplier(s1: float, s2: float, s_out: float) -> tuple[int, int]:
    # CreateInterGateMulParams: all in double from the float32 scales
    return quantize_multiplier(f32(s1) * f32(s2) / f32(s_out))


def cell_scale_power(scale: float) -> int:
    """CheckedLog2 of the cell scale as TFLM computes it (float32 log, rounded half away from zero)."""
    x_log2 = np.float32(np.log(np.float32(scale))) * (np.float32(1.0) / np.float32(np.log(np.float32(2.0))))
    return tflite_round(float(np.float32(x_log2)))


def _tanh_input(power: int) -> tuple[int, int]:
    """The cell tanh's input rescale (TFLM's lstm Tanh: left shift 15 + power - 3, or a right shift when negative)."""
    shift = 12 + power
    if shift < 0:
        return 3, -shift
    if shift > 14:  # 32767 * (3 << shift) would overflow int32
        raise BadInput(f"UNIDIRECTIONAL_SEQUENCE_LSTM: cell state scale 2^{power} is too coarse (above 2^2)")
    return 3 << shift, 0


def quantized_cell_clip(cell_clip: float, scale: float) -> int:
    """CreateLstmCellStateInfo: cell_clip / scale in double, clamped to int16 and truncated; 0 when clip <= 0."""
    if not f32(cell_clip) > 0:
        return 0
    return int(min(max(f32(cell_clip) / f32(scale), -32768.0), 32767.0))


Quant = tuple[float, int]


def _sizes(shapes: tuple[tuple[int, ...], ...], time_major: bool) -> tuple[int, int, int, int]:
    """(batch, time steps, n_input, n_cell) from the input, hidden state, cell state and output shapes, checked as
    TFLM's ValidateTensorSize does."""
    x, h, c, y = shapes
    op = "UNIDIRECTIONAL_SEQUENCE_LSTM"
    if len(x) != 3 or len(y) != 3:
        raise BadInput(
            f"{op}: input {list(x)} and output {list(y)} must be 3-D ([batch, time, features] or time-major)"
        )
    if len(h) != 2:
        raise BadInput(f"{op}: hidden state shape {list(h)}: TFLM reads the units from its dimension 1 (2-D state)")
    time_steps, batch = (x[0], x[1]) if time_major else (x[1], x[0])
    n_cell = h[1]
    if int(np.prod(h)) != batch * n_cell or int(np.prod(c)) != batch * n_cell:
        raise BadInput(f"{op}: hidden state {list(h)} / cell state {list(c)} should hold batch {batch} x {n_cell}")
    if tuple(y) != (x[0], x[1], n_cell):
        raise BadInput(f"{op}: output shape {list(y)} should be {[x[0], x[1], n_cell]}")
    return batch, time_steps, x[2], n_cell


def prepare(
    shapes: tuple[tuple[int, ...], ...],
    time_major: bool,
    q: tuple[Quant, Quant, Quant],
    w_quant: list[Quant],
    cell_clip: float,
) -> LstmParams:
    """`shapes`: input, hidden state, cell state, output; `q`: input, hidden state, cell state (scale, zero point);
    `w_quant`: the 8 weights (input then recurrent, GATES order)."""
    batch, time_steps, n_input, n_cell = _sizes(shapes, time_major)
    (sx, zx), (sh, zh), (sc, _) = q
    ins = [_fc_multiplier(sx, s) for s, _ in w_quant[:4]]
    recs = [_fc_multiplier(sh, s) for s, _ in w_quant[4:]]
    return LstmParams(
        int(time_major),
        batch,
        time_steps,
        n_input,
        n_cell,
        -zx,
        -zh,
        tuple(-z for _, z in w_quant[:4]),
        tuple(-z for _, z in w_quant[4:]),
        tuple(m for m, _ in ins),
        tuple(s for _, s in ins),
        tuple(m for m, _ in recs),
        tuple(s for _, s in recs),
        *_mul_multiplier(ACT_SCALE, sc, sc),
        *_mul_multiplier(ACT_SCALE, ACT_SCALE, sc),
        *_mul_multiplier(ACT_SCALE, ACT_SCALE, sh),
        zh,
        quantized_cell_clip(cell_clip, sc),
        *_tanh_input(cell_scale_power(sc)),
    )


# ---------------------------------------------------------------------------------------------------------------------
# The numpy reference (int32 values in int64)


def sigmoid16(x: I32) -> I32:
    """TFLM's int16 logistic of Q3.12 input (multiplier 3, no shift) into Q0.15."""
    return sigmoid16_lut(x * 3)


def tanh16(x: I32, mult: int, rshift: int) -> I32:
    """TFLM's int16 tanh: the input rescaled by (x * mult + round) >> rshift, into Q0.15."""
    return tanh16_lut((x * mult + ((1 << (rshift - 1)) if rshift > 0 else 0)) >> rshift)


def _sat16(v: I32) -> I32:
    return np.clip(v, -32768, 32767)


def _fc16(x: I32, offset: int, w: np.ndarray, w_offset: int, q: tuple[int, int], bias: np.ndarray | None) -> I32:
    """An int8 FC into int16 at 2^-12: rows of x times w's rows (+ bias), requantized and saturated."""
    acc = (x + offset) @ (w.astype(np.int64) + w_offset).T
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    return _sat16(mbqm(wrap32(acc), *q))  # the int32 accumulator wraps as TFLM's does


# A gate's FC into int16 at 2^-12: (x, x offset, weights, weights offset, (multiplier, shift), bias or None)
Fc = Callable[[I32, int, np.ndarray, int, tuple[int, int], "np.ndarray | None"], I32]
INT8_RANGE = (-128, 127)


def _step(
    p: LstmParams,
    w: dict[str, np.ndarray],
    x: I32,
    h: I32,
    c: I32,
    fc: Fc = _fc16,
    h_range: tuple[int, int] = INT8_RANGE,
) -> tuple[I32, I32]:
    """One time step over `p.rows` rows: (new hidden values, new cell int16 values). `fc` and `h_range`: the int8
    LSTM's by default, nn/ops/lstm_16x8.py's (int64 accumulator, int16 hidden state) for the 16x8 one."""
    act = []
    for g, name in enumerate(GATES):
        in_q, rec_q = (p.in_mult[g], p.in_shift[g]), (p.rec_mult[g], p.rec_shift[g])
        fx = fc(x, p.input_offset, w[f"input_to_{name}_w"], p.in_w_offset[g], in_q, w[f"{name}_gate_bias"])
        fh = fc(h, p.hidden_offset, w[f"recurrent_to_{name}_w"], p.rec_w_offset[g], rec_q, None)
        pre = _sat16(fx + fh)
        act.append(tanh16(pre, 3, 0) if name == "cell" else sigmoid16(pre))
    i, f, g_, o = act
    c = _sat16(mbqm(f * c, p.forget_mult, p.forget_shift))
    c = _sat16(c + _sat16(mbqm(i * g_, p.input_mult, p.input_shift)))
    if p.cell_clip > 0:
        c = np.clip(c, -p.cell_clip, p.cell_clip)
    t = tanh16(c, p.tanh_mult, p.tanh_rshift)
    h_new = np.clip(mbqm(t * o, p.hidden_mult, p.hidden_shift) + p.hidden_zp, *h_range)
    return h_new, c


def run(
    p: LstmParams,
    w: dict[str, np.ndarray],
    x: np.ndarray,
    h: np.ndarray,
    c: np.ndarray,
    fc: Fc = _fc16,
    h_range: tuple[int, int] = INT8_RANGE,
) -> tuple[I32, I32, I32]:
    """The whole sequence from states h (batch, n_cell) and c: (output, new h, new c) as int64 arrays."""
    x = x.astype(np.int64).reshape(-1)
    h = h.astype(np.int64).reshape(p.batch, p.n_cell)
    c = c.astype(np.int64).reshape(p.batch, p.n_cell)
    out = np.zeros((p.batch * p.time_steps, p.n_cell), np.int64)
    if p.time_major:  # step t holds rows [t * batch, (t + 1) * batch) of both input and output
        xs = x.reshape(p.time_steps, p.batch, p.n_input)
        for t in range(p.time_steps):
            h, c = _step(p, w, xs[t], h, c, fc, h_range)
            out[t * p.batch : (t + 1) * p.batch] = h
    else:  # batch b's sequence is rows [b * time_steps, (b + 1) * time_steps), its state row b
        xs = x.reshape(p.batch, p.time_steps, p.n_input)
        for b in range(p.batch):
            hb, cb = h[b : b + 1], c[b : b + 1]
            for t in range(p.time_steps):
                hb, cb = _step(p, w, xs[b, t : t + 1], hb, cb, fc, h_range)
                out[b * p.time_steps + t] = hb[0]
            h[b], c[b] = hb[0], cb[0]
    return out, h, c


def reference(layer: Layer, xs: Sequence[np.ndarray]) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    x, h, c = xs
    p: LstmParams = layer.prepared
    out, h_new, c_new = run(p, layer.consts, x, h, c)
    y = out.astype(np.int8).reshape((*x.shape[:2], p.n_cell))
    return y, {1: h_new.astype(np.int8).reshape(h.shape), 2: c_new.astype(np.int16).reshape(c.shape)}


# ---------------------------------------------------------------------------------------------------------------------
# Lowering


def _weight(
    ctx: Lowering, op: RawOperator, slot: int, role: str, shape: tuple[int, int], name: str = "int8"
) -> tuple[RawTensor, Quant]:
    raw = ctx.t(op.inputs[slot])
    if raw.data is None or raw.dtype != "int8":
        raise ctx.fail(op, f"{role} {raw.describe()} must be an int8 constant (TFLM's {name} LSTM: 8-bit weights)")
    if len(raw.scales) != 1 or len(raw.zero_points) != 1:
        raise ctx.fail(op, f"{role} {raw.describe()} is not per-tensor quantized, as TFLM's LSTM needs")
    if tuple(raw.shape) != shape:
        raise ctx.fail(op, f"{role} {raw.describe()} should be {list(shape)}")
    return raw, (raw.scales[0], raw.zero_points[0])


def _bias(ctx: Lowering, op: RawOperator, slot: int, role: str, n_cell: int, dtype: str = "int32") -> np.ndarray:
    raw = ctx.t(op.inputs[slot])
    if raw.data is None or raw.dtype != dtype or tuple(raw.shape) != (n_cell,):
        raise ctx.fail(op, f"{role} {raw.describe()} must be an {dtype} constant of shape [{n_cell}]")
    return raw.data.astype(dtype)


def _check_variant(ctx: Lowering, op: RawOperator, name: str = "int8") -> None:
    if len(op.inputs) != 24:
        raise ctx.fail(op, f"{len(op.inputs)} inputs: TFLM's UNIDIRECTIONAL_SEQUENCE_LSTM takes 24")
    if any(op.inputs[s] < 0 for s in (1, 5, 12)):
        raise ctx.fail(op, f"CIFG (no input gate): TFLM's {name} LSTM runs the standard LSTM (all four gates) only")
    for what, slots in VARIANT_SLOTS.items():
        if any(op.inputs[s] >= 0 for s in slots):
            raise ctx.fail(op, f"{what} tensors: TFLM's {name} LSTM runs the standard LSTM only (no {what})")
    act = op.options.get("activation", "NONE")
    if act != "TANH":
        raise ctx.fail(op, f"fused_activation_function {act}: TFLM's LSTM takes TANH for the cell gate")


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    return lower_lstm(ctx, op, "lstm", "int8", prepare)


def lower_lstm(ctx: Lowering, op: RawOperator, kind: str, act: str, prepare_fn: Callable[..., LstmParams]) -> Layer:
    """The layer `kind` of activations (input, hidden state, output) of type `act`: int8 with int32 biases, or int16
    with int64 ones (nn/ops/lstm_16x8.py); `prepare_fn` takes `prepare`'s arguments."""
    name, bias_dtype = ("int8", "int32") if act == "int8" else ("16x8", "int64")
    _check_variant(ctx, op, name)
    x = ctx.act_tensor(op, op.inputs[0], "input", act)
    h = ctx.state_tensor(op, op.inputs[SLOT_HIDDEN], "hidden state", act)
    c = ctx.state_tensor(op, op.inputs[SLOT_CELL], "cell state", "int16")
    y = ctx.act_tensor(op, op.outputs[0], "output", act)
    raw_c = ctx.t(op.inputs[SLOT_CELL])
    if len(raw_c.scales) != 1 or list(raw_c.zero_points) not in ([], [0]) or not raw_c.scales[0] > 0:
        # TFLM reads the int16 cell as symmetric and resets it to 0 (memset), whatever its zero point
        raise ctx.fail(op, f"cell state {raw_c.describe()} needs one scale and zero point 0 (TFLM: symmetric int16)")
    n_input, n_cell = x.shape[-1], h.shape[-1]
    arrays: dict[str, np.ndarray] = {}
    w_quant = []
    for fc, base, cols in (("input_to", 1, n_input), ("recurrent_to", 5, n_cell)):
        for g, gate in enumerate(GATES):
            raw, wq = _weight(ctx, op, base + g, f"{fc}_{gate} weights", (n_cell, cols), name)
            arrays[f"{fc}_{gate}_w"] = np.asarray(raw.data).astype(np.int8)
            w_quant.append(wq)
    for g, gate in enumerate(GATES):
        arrays[f"{gate}_gate_bias"] = _bias(ctx, op, 12 + g, f"{gate} gate bias", n_cell, bias_dtype)
    shapes = (x.shape, h.shape, c.shape, y.shape)
    quant = ((x.scale, x.zero_point), (h.scale, h.zero_point), (c.scale, c.zero_point))
    time_major, clip = bool(op.options.get("time_major", False)), float(op.options.get("cell_clip", 0.0))
    p = checked(ctx, op, prepare_fn, shapes, time_major, quant, w_quant, clip)
    layer = make_layer(op, kind, p, [(x.id, x, None), (h.id, h, None), (c.id, c, None)], y, arrays=arrays)
    layer.macs = p.batch * p.time_steps * 4 * n_cell * (n_input + n_cell)
    layer.params = int(sum(a.size for a in arrays.values()))
    return layer


def scratch_bytes(layer: Layer) -> int:
    """The four int16 gate vectors of one step (TFLM's four scratch buffers): rows x n_cell each."""
    p: LstmParams = layer.prepared
    return 4 * p.rows * p.n_cell * 2


OPERATORS = (
    Operator(
        "lstm",
        ("UNIDIRECTIONAL_SEQUENCE_LSTM",),
        "cosim_lstm_t",
        "cosim_lstm_s8",
        "ops/lstm.h",
        lower,
        reference,
        scratch_bytes,
    ),
)
