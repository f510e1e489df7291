"""SVDF (int8 input and output, int8 or int16 state), as TFLM's reference integer SVDF (svdf_common.cc).

Each invocation shifts every state row (batch, filter) one step left in place; the newest column is the feature
matmul (int8 weights_feature . (input - input zero point)) requantized by input * weights_feature / state scale,
clamped to the state type's range and offset by the state zero point (then stored in the state type, wrapping as
TFLM's store does). The time dot product (weights_time . (state - state zero point)) of the `rank` filters of a
unit, plus its bias, is requantized by state * weights_time / output scale to int8. Both effective scales are
computed in float from the float32 scales, as TFLM's Prepare does, then QuantizeMultiplier'd.

TFLM's integer path applies no fused activation (only the int8 clamp): neither does this one. Its Prepare reads the
bias' scale without checking that a bias exists (an absent bias crashes it): refused here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer, Tensor
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer
from tinyml_cosim.nn.quant import f32, mbqm, quantize_multiplier, wrap32
from tinyml_cosim.nn.tflite_reader import RawOperator

STATE_TYPES = {"int8": (np.int8, -128, 127), "int16": (np.int16, -32768, 32767)}
Q = tuple[float, int]  # (scale, zero point)


@dataclass(frozen=True)
class SvdfScales:
    """The float32 scales (and zero points) TFLM's Prepare reads."""

    q_in: Q
    s_weights_feature: float
    q_state: Q
    s_weights_time: float
    s_bias: float
    q_out: Q


@dataclass(frozen=True, eq=False)
class SvdfParams:
    """cosim_svdf_t: shapes, zero points, the two requantizations, the state type; the weights it points to."""

    batch: int
    input_size: int
    num_filters: int
    rank: int
    memory: int
    input_zp: int
    state_zp: int
    output_zp: int
    feature_mult: int
    feature_shift: int
    time_mult: int
    time_shift: int
    state_bits: int  # 8 or 16: the type of the state and of weights_time
    state_min: int
    state_max: int
    weights_feature: npt.NDArray[np.int8]
    weights_time_s8: npt.NDArray[np.int8] | None  # state_bits 8
    weights_time_s16: npt.NDArray[np.int16] | None  # state_bits 16
    bias: npt.NDArray[np.int32]

    @property
    def num_units(self) -> int:
        return self.num_filters // self.rank

    @property
    def weights_time(self) -> np.ndarray:
        wt = self.weights_time_s16 if self.weights_time_s8 is None else self.weights_time_s8
        assert wt is not None
        return wt


def _multiplier(what: str, real: float) -> tuple[int, int]:
    mult, shift = quantize_multiplier(real)
    if shift > 31:  # TFLM's x * (1 << shift) is undefined from there on
        raise BadInput(f"SVDF: {what} scale {real:.6g} is 2^31 or more: TFLM's requantization overflows")
    return mult, shift


def _check_shapes(
    x_shape: tuple[int, ...], weights: tuple[np.ndarray, np.ndarray, np.ndarray], rank: int
) -> tuple[int, int, int, int, int]:
    wf, wt, bias = weights
    if len(x_shape) != 2 or wf.ndim != 2 or wt.ndim != 2:
        raise BadInput(
            f"SVDF: input {list(x_shape)}, weights_feature {list(wf.shape)} and weights_time {list(wt.shape)} "
            "must be 2-D ([batch, input_size], [num_filters, input_size], [num_filters, memory_size])"
        )
    batch, input_size = x_shape
    num_filters, memory = wt.shape
    if rank < 1 or num_filters % rank:
        raise BadInput(f"SVDF: rank {rank}: TFLM needs a positive rank dividing num_filters ({num_filters})")
    if wf.shape != (num_filters, input_size):
        raise BadInput(f"SVDF: weights_feature {list(wf.shape)}, expected [{num_filters}, {input_size}]")
    if bias.shape[:1] != (num_filters // rank,) or bias.size != num_filters // rank:
        raise BadInput(f"SVDF: bias {list(bias.shape)}, expected [{num_filters // rank}] (one per unit)")
    return batch, input_size, num_filters, memory, num_filters // rank


def prepare(
    x_shape: tuple[int, ...],
    weights: tuple[np.ndarray, np.ndarray, np.ndarray],
    state_shape: tuple[int, ...],
    y_shape: tuple[int, ...],
    scales: SvdfScales,
    rank: int,
) -> SvdfParams:
    """TFLM's PrepareSvdf for int8: `weights` are (weights_feature int8, weights_time int8 or int16, bias int32)."""
    wf, wt, bias = weights
    batch, input_size, num_filters, memory, units = _check_shapes(x_shape, weights, rank)
    if tuple(state_shape) != (batch, memory * num_filters):
        raise BadInput(f"SVDF: activation state {list(state_shape)}, expected [{batch}, {memory * num_filters}]")
    if tuple(y_shape) != (batch, units):
        raise BadInput(f"SVDF: output {list(y_shape)}, expected [{batch}, {units}]")
    state_dtype = str(wt.dtype)
    if state_dtype not in STATE_TYPES:
        raise BadInput(f"SVDF: weights_time is {state_dtype}: TFLM's int8 SVDF takes int8 or int16")
    s = scales
    # TFLM compares in double a float product: |bias scale - state scale * weights_time scale| < 1e-5
    if abs(f32(s.s_bias) - f32(np.float32(s.q_state[0]) * np.float32(s.s_weights_time))) >= 1e-5:
        raise BadInput(
            f"SVDF: bias scale {s.s_bias:.6g} is not state scale * weights_time scale "
            f"({s.q_state[0]:.6g} * {s.s_weights_time:.6g}), as TFLM's Prepare requires (within 1e-5)"
        )
    # in float, as TFLM's static_cast<double>(float * float / float)
    scale_1 = f32(np.float32(np.float32(s.q_in[0]) * np.float32(s.s_weights_feature)) / np.float32(s.q_state[0]))
    scale_2 = f32(np.float32(np.float32(s.q_state[0]) * np.float32(s.s_weights_time)) / np.float32(s.q_out[0]))
    _, lo, hi = STATE_TYPES[state_dtype]
    return SvdfParams(
        batch,
        input_size,
        num_filters,
        rank,
        memory,
        s.q_in[1],
        s.q_state[1],
        s.q_out[1],
        *_multiplier("input * weights_feature / state", scale_1),
        *_multiplier("state * weights_time / output", scale_2),
        8 if state_dtype == "int8" else 16,
        lo,
        hi,
        np.ascontiguousarray(wf, np.int8),
        np.ascontiguousarray(wt) if state_dtype == "int8" else None,
        np.ascontiguousarray(wt) if state_dtype == "int16" else None,
        np.ascontiguousarray(bias, np.int32).reshape(-1),
    )


def reference(
    p: SvdfParams, x: npt.NDArray[np.int8], state: np.ndarray
) -> tuple[npt.NDArray[np.int8], dict[int, np.ndarray]]:
    """One invocation: (the int8 output, {1: the shifted state}) for `state` (args position 1) before it."""
    dtype = STATE_TYPES["int8" if p.state_bits == 8 else "int16"][0]
    rows = np.asarray(state).reshape(p.batch, p.num_filters, p.memory).astype(np.int64)
    xs = np.asarray(x, np.int64).reshape(p.batch, p.input_size) - p.input_zp
    feature = wrap32(xs @ p.weights_feature.astype(np.int64).T)  # (batch, num_filters)
    feature = np.clip(mbqm(feature, p.feature_mult, p.feature_shift), p.state_min, p.state_max) + p.state_zp
    new = np.concatenate([rows[:, :, 1:], feature[:, :, None]], axis=2).astype(dtype)  # the store wraps
    time = np.einsum("bfm,fm->bf", new.astype(np.int64) - p.state_zp, p.weights_time.astype(np.int64))
    units = wrap32(wrap32(time).reshape(p.batch, p.num_units, p.rank).sum(axis=2) + p.bias)
    out = np.clip(wrap32(mbqm(units, p.time_mult, p.time_shift) + p.output_zp), -128, 127)
    return out.astype(np.int8), {1: new.reshape(np.asarray(state).shape)}


def _const(ctx: Lowering, op: RawOperator, index: int, role: str, dtypes: tuple[str, ...]) -> tuple[np.ndarray, float]:
    raw = ctx.t(index)
    if not raw.is_const or raw.data is None:
        raise ctx.fail(op, f"{role} {raw.describe()} must be a constant")
    if raw.dtype not in dtypes:
        raise ctx.fail(op, f"{role} {raw.describe()} is {raw.dtype}, expected {' or '.join(dtypes)}")
    if len(raw.scales) != 1:
        raise ctx.fail(op, f"{role} {raw.describe()} needs one (per-tensor) scale: TFLM's SVDF reads one")
    return raw.data.astype(raw.dtype).reshape(raw.shape), raw.scales[0]


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    if len(op.inputs) != 5 or op.inputs[3] < 0 or op.inputs[4] < 0:
        raise ctx.fail(op, "TFLM's int8 SVDF takes 5 inputs (input, weights, bias, state); the bias is required")
    x = ctx.act_tensor(op, op.inputs[0], "input")
    wf, s_wf = _const(ctx, op, op.inputs[1], "weights_feature", ("int8",))
    wt, s_wt = _const(ctx, op, op.inputs[2], "weights_time", ("int8", "int16"))
    bias, s_bias = _const(ctx, op, op.inputs[3], "bias", ("int32",))
    # TFLM's kernel reads the state as the type of weights_time
    state: Tensor = ctx.state_tensor(op, op.inputs[4], "activation state", str(wt.dtype))
    y = ctx.act_tensor(op, op.outputs[0], "output")
    scales = SvdfScales(
        (x.scale, x.zero_point), s_wf, (state.scale, state.zero_point), s_wt, s_bias, (y.scale, y.zero_point)
    )
    p = checked(ctx, op, prepare, x.shape, (wf, wt, bias), state.shape, y.shape, scales, int(op.options.get("rank", 0)))
    wt_name = "weights_time_s8" if p.state_bits == 8 else "weights_time_s16"
    arrays = {"weights_feature": p.weights_feature, wt_name: p.weights_time, "bias": p.bias}
    layer = make_layer(op, "svdf", p, [(x.id, x, None), (state.id, state, None)], y, arrays=arrays)
    layer.macs = p.batch * p.num_filters * (p.input_size + p.memory)
    layer.params = sum(a.size for a in arrays.values())
    return layer


def scratch_bytes(layer: Layer) -> int:
    """TFLM's two int32 scratch buffers (per filter, per unit): the CMSIS-NN kernels' working memory."""
    p: SvdfParams = layer.prepared
    return 4 * p.batch * (p.num_filters + p.num_units)


OPERATORS = (
    Operator(
        "svdf",
        ("SVDF",),
        "cosim_svdf_t",
        "cosim_svdf_s8",
        "ops/svdf.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
        scratch_bytes,
    ),
)
