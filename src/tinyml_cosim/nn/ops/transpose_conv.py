"""TRANSPOSE_CONV (int8, per-channel or per-tensor int8 filter, optional int32 bias), as TFLM's reference kernel.

TFLM's Prepare: padding from the *output* size (the transposed convolution is the gradient of a convolution from the
output back to the input: ComputePaddingHeightWidth with the output's height and width as the image size), so
VALID always pads 0 and SAME pads max((ceil(out / stride) - 1) * stride + k - out, 0) / 2 before; per-channel
multipliers as CONV_2D's (double(input scale) * double(filter scale) / double(output scale), QuantizeMultiplier);
the activation range of the fused activation. Eval scatters every input pixel times the filter into an int32
scratch buffer the size of the output (zeroed first), then adds the bias, requantizes per channel, clamps. TFLM
never reads the output_shape operand (the output tensor's shape is what it sizes everything from): nor does this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer, Tensor
from tinyml_cosim.nn.ops.base import Lowering, Operand, Operator, checked, int32_values, make_layer
from tinyml_cosim.nn.quant import activation_range, mbqm, quantize_multiplier, wrap32
from tinyml_cosim.nn.tflite_reader import RawOperator, RawTensor

PADDINGS = {0: "SAME", 1: "VALID"}  # the schema's Padding enum, as the generic options reader leaves it
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
Shape4 = tuple[int, int, int, int]


@dataclass(frozen=True)
class TransposeConvParams:
    """cosim_transpose_conv_t (filter, bias, multiplier and shift are emitted as const arrays in flash)"""

    batches: int
    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    k_h: int
    k_w: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    input_offset: int
    output_offset: int
    act_min: int
    act_max: int
    filter: npt.NDArray[np.int8]  # [out_c, k_h, k_w, in_c]
    bias: npt.NDArray[np.int32] | None  # [out_c], None: NULL (no bias input)
    multiplier: npt.NDArray[np.int32]  # [out_c]
    shift: npt.NDArray[np.int32]  # [out_c]


def same_padding(out_size: int, k: int, stride: int) -> int:
    """The leading padding TFLM's ComputePaddingHeightWidth gives for SAME, the output size as the image size."""
    windows = (out_size + stride - 1) // stride
    return max((windows - 1) * stride + k - out_size, 0) // 2


def geometry(
    shapes: tuple[Shape4, Shape4], filter_shape: tuple[int, ...], options: dict[str, object]
) -> tuple[int, int, int, int]:
    """(stride_h, stride_w, pad_h, pad_w) of TFLM's Prepare, the filter checked against the input and output (also
    the 16x8 TRANSPOSE_CONV's, nn/ops/transpose_conv_16x8.py)."""
    (b, _, _, ic), (ob, oh, ow, oc) = shapes
    foc, kh, kw, fic = filter_shape
    if ob != b or fic != ic or foc != oc:
        raise BadInput(
            f"TRANSPOSE_CONV: filter {list(filter_shape)} (out_c, kh, kw, in_c) does not match the input "
            f"{list(shapes[0])} and output {list(shapes[1])}"
        )
    padding = options.get("padding", 0)
    padding = PADDINGS.get(padding, padding) if isinstance(padding, int) else padding
    sh, sw = int(options.get("stride_h", 1)), int(options.get("stride_w", 1))  # type: ignore[call-overload]
    if padding not in ("SAME", "VALID"):
        raise BadInput(f"TRANSPOSE_CONV: padding {padding}: TFLM's TRANSPOSE_CONV takes SAME or VALID")
    if sh < 1 or sw < 1:
        raise BadInput(f"TRANSPOSE_CONV: strides {sh}x{sw}: they must be 1 or more")
    pads = (same_padding(oh, kh, sh), same_padding(ow, kw, sw)) if padding == "SAME" else (0, 0)
    return sh, sw, *pads


def prepare(
    shapes: tuple[Shape4, Shape4],
    filt: npt.NDArray[np.int8],
    bias: npt.NDArray[np.int32] | None,
    quant: tuple[tuple[float, int], list[float], tuple[float, int]],
    options: dict[str, object],
) -> TransposeConvParams:
    """`shapes`: input and output (NHWC); `quant`: (input scale, zero point), the filter's scales (one, or one per
    output channel), (output scale, zero point); `options`: padding, stride_h, stride_w, activation."""
    (b, ih, iw, ic), (_, oh, ow, oc) = shapes
    kh, kw = filt.shape[1:3]
    sh, sw, pad_h, pad_w = geometry(shapes, filt.shape, options)
    activation = str(options.get("activation", "NONE"))
    if activation not in ACTIVATIONS:
        raise BadInput(
            f"TRANSPOSE_CONV: fused_activation_function {activation}: TFLM's int8 TRANSPOSE_CONV clamps only for "
            f"{', '.join(ACTIVATIONS)} (it would ignore this one)"
        )
    (si, zi), f_scales, (so, zo) = quant
    scales = f_scales if len(f_scales) == oc else f_scales * oc
    # per output channel, in double, as PopulateConvolutionQuantizationParams (and CONV_2D: nn/graph.py)
    mults = [quantize_multiplier(si * s / so) for s in scales]
    if bias is not None and bias.size != oc:
        raise BadInput(f"TRANSPOSE_CONV: bias has {bias.size} values, expected {oc} (one per output channel)")
    lo, hi = activation_range(activation, so, zo)
    return TransposeConvParams(
        b, ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, pad_h, pad_w, -zi, zo, lo, hi,
        np.ascontiguousarray(filt, np.int8),
        None if bias is None else np.ascontiguousarray(bias.reshape(-1), np.int32),
        np.array([m for m, _ in mults], np.int32),
        np.array([s for _, s in mults], np.int32),
    )  # fmt: skip


def accumulate(p: TransposeConvParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int64]:
    """The scratch buffer after the scatter: every input pixel times every filter tap, summed where it lands in
    the output (int32 wrap-around, as on the target)."""
    xs = x.reshape(p.batches, p.in_h, p.in_w, p.in_c).astype(np.int64) + p.input_offset
    strides, pads = (p.stride_h, p.stride_w), (p.pad_h, p.pad_w)
    return wrap32(scatter(xs, p.filter.astype(np.int64), strides, pads, (p.out_h, p.out_w)))


def scatter(
    xs: npt.NDArray[np.int64],
    f: npt.NDArray[np.int64],
    strides: tuple[int, int],
    pads: tuple[int, int],
    out_hw: tuple[int, int],
) -> npt.NDArray[np.int64]:
    """The exact sums (int64) of input [b, h, w, in_c] times filter [out_c, kh, kw, in_c] landing on each output
    element [b, out_h, out_w, out_c], the output's leading padding `pads` cut off."""
    (b, ih, iw, _), (oc, kh, kw, _) = xs.shape, f.shape
    (sh, sw), (ph, pw), (oh, ow) = strides, pads, out_hw
    # a canvas big enough for every tap and for the whole padded output window, cropped to the output at the end
    canvas = np.zeros((b, max((ih - 1) * sh + kh, ph + oh), max((iw - 1) * sw + kw, pw + ow), oc), np.int64)
    for fy in range(kh):
        for fx in range(kw):
            tap = np.einsum("bhwi,oi->bhwo", xs, f[:, fy, fx, :])
            canvas[:, fy : fy + (ih - 1) * sh + 1 : sh, fx : fx + (iw - 1) * sw + 1 : sw, :] += tap
    return canvas[:, ph : ph + oh, pw : pw + ow, :]


def reference(p: TransposeConvParams, x: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    acc = accumulate(p, x)
    if p.bias is not None:
        acc = wrap32(acc + p.bias.astype(np.int64))
    out = mbqm(acc, p.multiplier.astype(np.int64), p.shift.astype(np.int64)) + p.output_offset
    return np.clip(out, p.act_min, p.act_max).astype(np.int8)


def filter_operand(ctx: Lowering, op: RawOperator) -> tuple[RawTensor, list[float]]:
    f = ctx.t(op.inputs[1])
    if not f.is_const or f.data is None or f.dtype != "int8":
        raise ctx.fail(op, f"filter {f.describe()} must be a constant int8 tensor (it is emitted to flash)")
    if f.data.ndim != 4:
        raise ctx.fail(op, f"filter {f.describe()} is {f.data.ndim}-D, expected [out_c, kh, kw, in_c]")
    if not f.scales or len(f.scales) != len(f.zero_points):
        raise ctx.fail(op, f"filter {f.describe()} is not quantized (one scale and zero point, or one per channel)")
    if any(z != 0 for z in f.zero_points):
        raise ctx.fail(op, f"filter {f.describe()} has a non-zero zero point; int8 weights must be symmetric")
    if len(f.scales) > 1 and (f.quantized_dimension != 0 or len(f.scales) != f.data.shape[0]):
        raise ctx.fail(
            op,
            f"filter {f.describe()} has {len(f.scales)} scales along dimension {f.quantized_dimension}: TFLM "
            f"quantizes TRANSPOSE_CONV per output channel (dimension 0, {f.data.shape[0]} scales)",
        )
    return f, list(f.scales)


def _bias(ctx: Lowering, op: RawOperator) -> npt.NDArray[np.int32] | None:
    if len(op.inputs) < 4 or op.inputs[3] < 0:
        return None
    b = ctx.t(op.inputs[3])
    if not b.is_const or b.data is None or b.dtype != "int32":
        raise ctx.fail(op, f"bias {b.describe()} must be a constant int32 tensor (it is emitted to flash)")
    return b.data.astype(np.int32).reshape(-1)


def shape4(ctx: Lowering, op: RawOperator, t: Tensor, role: str) -> Shape4:
    if len(t.shape) != 4:
        raise ctx.fail(op, f"{role} is {len(t.shape)}-D {list(t.shape)}: TFLM's TRANSPOSE_CONV needs 4-D (NHWC)")
    b, h, w, c = t.shape
    return b, h, w, c


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    if len(op.inputs) not in (3, 4):
        raise ctx.fail(op, f"{len(op.inputs)} inputs: TFLM's TRANSPOSE_CONV takes output_shape, filter, input, bias")
    x = ctx.act_tensor(op, op.inputs[2], "input")
    y = ctx.act_tensor(op, op.outputs[0], "output")
    # TFLM never reads output_shape (its Prepare sizes everything from the output tensor), so neither does this
    # compiler beyond asking for what converters write: a constant int32[4]
    shape = int32_values(ctx, op, op.inputs[0], "output_shape")
    if shape is None or len(shape) != 4:
        raise ctx.fail(op, f"output_shape {shape}: expected a constant int32[4] (TFLM uses the output tensor's shape)")
    f, scales = filter_operand(ctx, op)
    assert f.data is not None
    shapes = (shape4(ctx, op, x, "input"), shape4(ctx, op, y, "output"))
    quant = ((x.scale, x.zero_point), scales, (y.scale, y.zero_point))
    p = checked(ctx, op, prepare, shapes, f.data.astype(np.int8), _bias(ctx, op), quant, dict(op.options))
    return transpose_conv_layer(op, "transpose_conv", p, [(x.id, x, None)], x, y)


def transpose_conv_layer(op: RawOperator, kind: str, p: Any, ins: list[Operand], x: Tensor, y: Tensor) -> Layer:
    """The kernel call of either form: filter, multipliers, shifts and the bias (when there is one) as flash arrays,
    the MACs of the scatter (every input pixel times the filter)."""
    arrays = {"filter": p.filter, "multiplier": p.multiplier, "shift": p.shift}
    if p.bias is not None:
        arrays["bias"] = p.bias
    layer = make_layer(op, kind, p, ins, y, arrays=arrays)
    layer.macs = x.elements * p.k_h * p.k_w * p.out_c
    layer.params = int(p.filter.size + (0 if p.bias is None else p.bias.size))
    return layer


def scratch_bytes(layer: Layer) -> int:
    """TFLM's int32 scratch buffer: one accumulator per output element."""
    p: TransposeConvParams = layer.prepared
    return 4 * p.batches * p.out_h * p.out_w * p.out_c


OPERATORS = (
    Operator(
        "transpose_conv",
        ("TRANSPOSE_CONV",),
        "cosim_transpose_conv_t",
        "cosim_transpose_conv_s8",
        "ops/transpose_conv.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
        scratch=scratch_bytes,
    ),
)
