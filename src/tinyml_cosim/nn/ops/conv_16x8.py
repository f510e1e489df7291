"""CONV_2D and DEPTHWISE_CONV_2D 16x8 (int16 activations, int8 weights, int64 or int32 bias), as TFLM's reference
kernels (reference_integer_ops::ConvPerChannel / DepthwiseConvPerChannel for int16).

TFLM's Prepare is the int8 one (nn/graph.py): ComputePaddingHeightWidth, per-channel multipliers double(input
scale) * double(filter scale) / double(output scale) through QuantizeMultiplier, the activation range of the fused
activation in the int16 range. Eval differs: the int16 kernels apply no offset at all (no input, filter or output
zero point: TFLM checks none, and the output zero point moves only the activation range), accumulate in int64
(int64 bias) and requantize with the 64-bit MultiplyByQuantizedMultiplier (the multiplier rounded to 16 bits, one
rounding shift); CONV_2D with an int32 bias (or none and quantized_bias_type INT32) accumulates in int32 (wrapping)
and requantizes as int8 does. Grouped CONV_2D (filter input depth dividing the input's) is TFLM's too.
DEPTHWISE_CONV_2D reads its bias as int64 whatever its type: an int32 bias is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer, Tensor
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer
from tinyml_cosim.nn.ops.eltwise_16x8 import activation_range_16
from tinyml_cosim.nn.padding import compute_out_size, compute_padding
from tinyml_cosim.nn.quant import mbqm, quantize_multiplier, wrap32
from tinyml_cosim.nn.tflite_reader import RawOperator, RawTensor

INT32_BIAS_TYPE = 2  # the schema's TensorType INT32 (quantized_bias_type, when there is no bias tensor)
MAX_SHIFT_64 = 14  # the 64-bit requantization shifts right by 15 - shift: from 15 on it is undefined
MAX_SHIFT_32 = 30  # the 32-bit one shifts x left by shift: from 31 on it is undefined
Shape4 = tuple[int, int, int, int]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Conv16Params:
    """cosim_conv_16x8_t (filter, biases, multipliers and shifts are const arrays in flash)"""

    batches: int
    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    k_h: int
    k_w: int
    filter_in_c: int  # CONV_2D: the filter's input depth (in_c / groups); DEPTHWISE_CONV_2D: 1
    stride_h: int
    stride_w: int
    dil_h: int
    dil_w: int
    pad_h: int
    pad_w: int
    depth_multiplier: int  # DEPTHWISE_CONV_2D's; 1 for CONV_2D
    act_min: int
    act_max: int
    acc32: int  # 1: int32 accumulator and requantization (int32 bias), 0: int64
    filter: npt.NDArray[np.int8]  # CONV_2D [out_c, k_h, k_w, filter_in_c]; DEPTHWISE_CONV_2D [1, k_h, k_w, out_c]
    bias: npt.NDArray[np.int64] | None  # int64 bias, or None
    bias32: npt.NDArray[np.int32] | None  # int32 bias, or None
    multiplier: npt.NDArray[np.int32]  # [out_c]
    shift: npt.NDArray[np.int32]  # [out_c]


def multipliers(op: str, si: float, scales: list[float], so: float, n: int, acc32: bool) -> tuple[I64, I64]:
    """Per channel, in double, as PopulateConvolutionQuantizationParams; refused where TFLM's requantization of
    that accumulator is undefined (a scale ratio of 2^14 or more for int64, 2^30 for int32)."""
    mults = [quantize_multiplier(si * s / so) for s in (scales if len(scales) == n else scales * n)]
    limit = MAX_SHIFT_32 if acc32 else MAX_SHIFT_64
    worst = max(s for _, s in mults)
    if worst > limit:
        raise BadInput(
            f"{op}: input scale * filter scale / output scale is 2^{worst - 1} or more: TFLM's int16 requantization "
            f"({'int32' if acc32 else 'int64'} accumulator) takes ratios below 2^{limit}"
        )
    return np.array([m for m, _ in mults], np.int64), np.array([s for _, s in mults], np.int64)


def requantize(acc: npt.ArrayLike, mult: npt.ArrayLike, shift: npt.ArrayLike, acc32: bool) -> I64:
    """MultiplyByQuantizedMultiplier of an int32 accumulator (double rounding), or of an int64 one: the multiplier
    rounded to its top 16 bits (0x7FFF from 0x7FFF0000 on), one rounding right shift by 15 - shift, the result
    truncated to int32; int64 wrap-around as on the target."""
    a = np.asarray(acc, np.int64)
    m = np.asarray(mult, np.int64)
    s = np.asarray(shift, np.int64)
    if acc32:
        return mbqm(wrap32(a), m, s)
    reduced = np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)
    total = 15 - s
    with np.errstate(over="ignore"):
        r = a * reduced + (np.int64(1) << (total - 1))
    return wrap32(r >> total)


def add_bias(acc: I64, bias: npt.NDArray[np.int64] | None, bias32: npt.NDArray[np.int32] | None, acc32: bool) -> I64:
    """The accumulator plus the bias, wrapping as the accumulator's type does on the target."""
    if acc32:
        acc = wrap32(acc if bias32 is None else acc + bias32.astype(np.int64))
    elif bias is not None:
        with np.errstate(over="ignore"):
            acc = acc + bias.astype(np.int64)
    return acc


def _geometry(
    op: str, p_in: Shape4, p_out: Shape4, k: tuple[int, int], options: dict[str, object]
) -> tuple[int, int, int, int, int, int]:
    """(stride_h, stride_w, dil_h, dil_w, pad_h, pad_w), the output size checked against the padding, as the int8
    lowering computes them (nn/padding.py: TFLM's ComputePaddingHeightWidth)."""
    padding = str(options.get("padding", "VALID"))
    sh, sw, dh, dw = (int(options.get(key, 1)) for key in ("stride_h", "stride_w", "dilation_h", "dilation_w"))  # type: ignore[call-overload]
    if padding not in ("SAME", "VALID"):
        raise BadInput(f"{op}: padding {padding}: TFLM takes SAME or VALID")
    if min(sh, sw, dh, dw) < 1:
        raise BadInput(f"{op}: strides {sh}x{sw}, dilation {dh}x{dw}: each must be 1 or more")
    pads = []
    axes = (("height", p_in[1], k[0], sh, dh, p_out[1]), ("width", p_in[2], k[1], sw, dw, p_out[2]))
    for axis, size, kk, st, d, got in axes:
        want = compute_out_size(padding, size, kk, st, d)
        if want != got:
            raise BadInput(f"{op}: output {axis} is {got}, {padding} padding gives {want}")
        pads.append(compute_padding(st, d, size, kk, got))
    return sh, sw, dh, dw, pads[0], pads[1]


def prepare(
    op: str,
    shapes: tuple[Shape4, Shape4],
    filt: npt.NDArray[np.int8],
    biases: tuple[npt.NDArray[np.int64] | None, npt.NDArray[np.int32] | None, bool],
    quant: tuple[float, list[float], tuple[float, int]],
    options: dict[str, object],
) -> Conv16Params:
    """`op`: CONV_2D or DEPTHWISE_CONV_2D; `shapes`: input and output (NHWC); `biases`: (int64 bias, int32 bias,
    int32 accumulator); `quant`: input scale, filter scales (one, or one per output channel), (output scale, zero
    point); `options`: padding, strides, dilations, depth_multiplier, activation."""
    (b, ih, iw, ic), (ob, oh, ow, oc) = shapes
    depthwise = op == "DEPTHWISE_CONV_2D"
    foc, kh, kw, fic = (filt.shape[3], *filt.shape[1:3], 1) if depthwise else filt.shape
    if ob != b:
        raise BadInput(f"{op}: input batch {b} and output batch {ob} differ")
    dm = oc // ic if depthwise and ic else 1
    option_dm = int(options.get("depth_multiplier", dm))  # type: ignore[call-overload]
    if depthwise and (filt.shape[0] != 1 or foc != oc or dm * ic != oc or option_dm != dm):
        raise BadInput(
            f"{op}: filter {list(filt.shape)} and depth_multiplier {options.get('depth_multiplier')} do not give "
            f"output channels {oc} from input channels {ic} (filter [1, kh, kw, in_c * depth_multiplier])"
        )
    if not depthwise and (foc != oc or fic < 1 or ic % fic or oc % (ic // fic)):
        raise BadInput(f"{op}: filter {list(filt.shape)} does not match input channels {ic} and output channels {oc}")
    geometry = _geometry(op, shapes[0], shapes[1], (kh, kw), options)
    bias, bias32, acc32 = biases
    given = bias if bias is not None else bias32
    if given is not None and given.size != oc:
        raise BadInput(f"{op}: bias has {given.size} values, expected {oc} (one per output channel)")
    si, scales, (so, zo) = quant
    mult, shift = multipliers(op, si, scales, so, oc, acc32)
    lo, hi = activation_range_16(op, str(options.get("activation", "NONE")), so, zo)
    return Conv16Params(
        b, ih, iw, ic, oh, ow, oc, kh, kw, fic, *geometry, dm, lo, hi, int(acc32),
        np.ascontiguousarray(filt, np.int8),
        None if bias is None else np.ascontiguousarray(bias.reshape(-1), np.int64),
        None if bias32 is None else np.ascontiguousarray(bias32.reshape(-1), np.int32),
        mult.astype(np.int32), shift.astype(np.int32),
    )  # fmt: skip


def _patches(p: Conv16Params, x: npt.NDArray[np.int16]) -> I64:
    """[batch, out_h, out_w, k_h, k_w, in_c]: each output pixel's window, 0 outside the image (TFLM skips those
    taps, and with no input offset a skipped tap adds what a zero adds)."""
    xs = x.reshape(p.batches, p.in_h, p.in_w, p.in_c).astype(np.int64)
    need_h = (p.out_h - 1) * p.stride_h + (p.k_h - 1) * p.dil_h + 1
    need_w = (p.out_w - 1) * p.stride_w + (p.k_w - 1) * p.dil_w + 1
    canvas = np.zeros((p.batches, max(need_h, p.pad_h + p.in_h), max(need_w, p.pad_w + p.in_w), p.in_c), np.int64)
    canvas[:, p.pad_h : p.pad_h + p.in_h, p.pad_w : p.pad_w + p.in_w, :] = xs
    out = np.zeros((p.batches, p.out_h, p.out_w, p.k_h, p.k_w, p.in_c), np.int64)
    for fy in range(p.k_h):
        for fx in range(p.k_w):
            y0, x0 = fy * p.dil_h, fx * p.dil_w
            rows = slice(y0, y0 + (p.out_h - 1) * p.stride_h + 1, p.stride_h)
            cols = slice(x0, x0 + (p.out_w - 1) * p.stride_w + 1, p.stride_w)
            out[:, :, :, fy, fx, :] = canvas[:, rows, cols, :]
    return out


def accumulate(p: Conv16Params, x: npt.NDArray[np.int16], depthwise: bool) -> I64:
    """The exact sums of filter times input per output element (no int64 overflow: at most 2^23 per tap)."""
    win = _patches(p, x)
    f = p.filter.astype(np.int64)
    if depthwise:
        return np.einsum("byxhwo,hwo->byxo", win[..., np.arange(p.out_c) // p.depth_multiplier], f[0])
    groups = p.in_c // p.filter_in_c
    per = p.out_c // groups
    fic = p.filter_in_c
    parts = [
        np.einsum("byxhwi,ohwi->byxo", win[..., g * fic : (g + 1) * fic], f[g * per : (g + 1) * per])
        for g in range(groups)
    ]
    return np.concatenate(parts, axis=-1)


def reference(p: Conv16Params, x: npt.NDArray[np.int16], depthwise: bool) -> npt.NDArray[np.int16]:
    acc = add_bias(accumulate(p, x, depthwise), p.bias, p.bias32, bool(p.acc32))
    out = requantize(acc, p.multiplier, p.shift, bool(p.acc32))
    return np.clip(out, p.act_min, p.act_max).astype(np.int16)


def int8_weights(ctx: Lowering, op: RawOperator, index: int, role: str, qdim: int) -> tuple[RawTensor, list[float]]:
    """A constant int8 filter / weights tensor, symmetric, per tensor or per channel along `qdim`."""
    f = ctx.t(index)
    if not f.is_const or f.data is None or f.dtype != "int8":
        raise ctx.fail(op, f"{role} {f.describe()} must be a constant int8 tensor (the 16x8 path: int8 weights)")
    if not f.scales or len(f.scales) != len(f.zero_points):
        raise ctx.fail(op, f"{role} {f.describe()} is not quantized (one scale and zero point, or one per channel)")
    if any(z != 0 for z in f.zero_points):
        raise ctx.fail(op, f"{role} {f.describe()} has a non-zero zero point; int8 weights must be symmetric")
    channels = f.data.shape[qdim] if f.data.ndim > qdim else -1
    if len(f.scales) > 1 and (f.quantized_dimension != qdim or len(f.scales) != channels):
        raise ctx.fail(
            op,
            f"{role} {f.describe()} has {len(f.scales)} scales along dimension {f.quantized_dimension}: TFLM "
            f"quantizes {op.name} per output channel (dimension {qdim}, one scale per channel)",
        )
    return f, list(f.scales)


def bias_operand(
    ctx: Lowering, op: RawOperator, int32_ok: bool
) -> tuple[npt.NDArray[np.int64] | None, npt.NDArray[np.int32] | None, bool]:
    """(int64 bias, int32 bias, int32 accumulator): TFLM's int16 kernels take an int64 bias, CONV_2D and
    FULLY_CONNECTED an int32 one too (and accumulate in int32 then, as without a bias when quantized_bias_type says
    INT32)."""
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return None, None, int32_ok and op.options.get("quantized_bias_type", 0) == INT32_BIAS_TYPE
    b = ctx.t(op.inputs[2])
    allowed = ("int64", "int32") if int32_ok else ("int64",)
    if not b.is_const or b.data is None or b.dtype not in allowed:
        raise ctx.fail(
            op, f"bias {b.describe()} must be a constant {' or '.join(allowed)} tensor (TFLM's int16 {op.name})"
        )
    if b.dtype == "int32":
        return None, b.data.astype(np.int32).reshape(-1), True
    return b.data.astype(np.int64).reshape(-1), None, False


def _shape4(ctx: Lowering, op: RawOperator, t: Tensor, role: str) -> Shape4:
    if len(t.shape) != 4:
        raise ctx.fail(op, f"{role} is {len(t.shape)}-D {list(t.shape)}: TFLM's int16 {op.name} needs 4-D (NHWC)")
    b, h, w, c = t.shape
    return b, h, w, c


def _lower(ctx: Lowering, op: RawOperator, kind: str) -> Layer:
    depthwise = op.name == "DEPTHWISE_CONV_2D"
    if len(op.inputs) not in (2, 3):
        raise ctx.fail(op, f"{len(op.inputs)} inputs: TFLM's {op.name} takes input, filter and an optional bias")
    x = ctx.act_tensor(op, op.inputs[0], "input", "int16")
    y = ctx.act_tensor(op, op.outputs[0], "output", "int16")
    f, scales = int8_weights(ctx, op, op.inputs[1], "filter", 3 if depthwise else 0)
    assert f.data is not None
    if f.data.ndim != 4:
        raise ctx.fail(op, f"filter {f.describe()} is {f.data.ndim}-D, expected 4-D")
    shapes = (_shape4(ctx, op, x, "input"), _shape4(ctx, op, y, "output"))
    quant = (x.scale, scales, (y.scale, y.zero_point))
    biases = bias_operand(ctx, op, int32_ok=not depthwise)
    p = checked(ctx, op, prepare, op.name, shapes, f.data.astype(np.int8), biases, quant, dict(op.options))
    arrays = {"filter": p.filter, "multiplier": p.multiplier, "shift": p.shift}
    arrays.update({k: v for k, v in (("bias", p.bias), ("bias32", p.bias32)) if v is not None})
    layer = make_layer(op, kind, p, [(x.id, x, None)], y, arrays=arrays)
    layer.macs = y.elements * p.k_h * p.k_w * p.filter_in_c
    layer.params = int(sum(a.size for k, a in arrays.items() if k in ("filter", "bias", "bias32")))
    return layer


OPERATORS = (
    Operator(
        "conv2d_16x8",
        ("CONV_2D",),
        "cosim_conv_16x8_t",
        "cosim_conv2d_16x8",
        "ops/conv_16x8.h",
        lambda ctx, op: _lower(ctx, op, "conv2d_16x8"),
        lambda layer, xs: reference(layer.prepared, xs[0], depthwise=False),
        input_dtype="int16",
    ),
    Operator(
        "dwconv2d_16x8",
        ("DEPTHWISE_CONV_2D",),
        "cosim_conv_16x8_t",
        "cosim_dwconv2d_16x8",
        "ops/conv_16x8.h",
        lambda ctx, op: _lower(ctx, op, "dwconv2d_16x8"),
        lambda layer, xs: reference(layer.prepared, xs[0], depthwise=True),
        input_dtype="int16",
    ),
)
