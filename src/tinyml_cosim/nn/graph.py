"""Validate a .tflite model and lower it to a schedule of int8 kernel calls with every constant precomputed.

Lowering follows TFLM's Prepare() arithmetic exactly (multipliers, shifts, paddings, activation ranges) so that the
kernels in firmware/nn and the numpy golden only ever see integers. Shape-only operators are folded away:
RESHAPE / EXPAND_DIMS / SQUEEZE become aliases of their input, and the SHAPE -> STRIDED_SLICE -> PACK chain that Keras'
Flatten exports is evaluated at compile time (batch 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn import quant, refusals
from tinyml_cosim.nn.ir import Layer, Tensor
from tinyml_cosim.nn.ops import BY_BUILTIN, variant_for
from tinyml_cosim.nn.ops.base import Operator, operands
from tinyml_cosim.nn.padding import compute_out_size, compute_padding
from tinyml_cosim.nn.tflite_reader import RawModel, RawOperator, RawTensor, read_tflite
from tinyml_cosim.nn.tflm_ops import tflm_support

SUPPORTED_OPS = (
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED",
    "AVERAGE_POOL_2D",
    "MAX_POOL_2D",
    "ADD",
    "MUL",
    "SOFTMAX",
    "LOGISTIC",
    "TANH",
    "CONCATENATION",
    "QUANTIZE",
    "DEQUANTIZE",
    *BY_BUILTIN,  # the operator registry (nn/ops/)
)
SHAPE_OPS = ("RESHAPE", "EXPAND_DIMS", "SQUEEZE", "SHAPE", "STRIDED_SLICE", "PACK")
ACTIVATIONS_SUPPORTED = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
# NHWC kernels that see one image: a 4-D batch runs them once per image (Layer.batch); and the kernels to which the
# batch is one more leading dimension: copies, element-wise walks over the flat tensor or the 4-D broadcast (ADD,
# MUL, LOGISTIC, TANH, QUANTIZE, DEQUANTIZE), rows of the last dimension (SOFTMAX) or of the input depth
# (FULLY_CONNECTED), as TFLM's kernels flatten them
PER_IMAGE_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D")
ANY_BATCH_OPS = ("CONCATENATION", "PACK", "FULLY_CONNECTED", "ADD", "MUL", "SOFTMAX", "LOGISTIC", "TANH", "QUANTIZE",
                 "DEQUANTIZE")  # fmt: skip


@dataclass
class Graph:
    name: str
    path: Path
    file_bytes: int
    tensors: dict[int, Tensor]
    layers: list[Layer]
    inputs: list[int]
    output: int  # the first output
    # Every output tensor, in the model's order (the first is `output`). The emitted model packs them one after
    # another into the caller's output buffer, as it takes the inputs packed from one input buffer.
    outputs: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.outputs = self.outputs or [self.output]

    @property
    def input(self) -> int:
        return self.inputs[0]

    @property
    def input_tensor(self) -> Tensor:
        return self.tensors[self.input]

    @property
    def output_tensor(self) -> Tensor:
        return self.tensors[self.output]

    @property
    def const_bytes(self) -> int:
        return sum(a.nbytes for layer in self.layers for a in layer.consts.values())


def _shape4(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    s = (1,) * (4 - len(shape)) + tuple(shape)
    return s[0], s[1], s[2], s[3]


class _Lowerer:
    def __init__(self, raw: RawModel) -> None:
        self.raw = raw
        self.alias: dict[int, int] = {}
        self.consts: dict[int, np.ndarray] = {t.index: t.data for t in raw.tensors if t.data is not None}
        self.tensors: dict[int, Tensor] = {}
        self.layers: list[Layer] = []
        self.where = str(raw.path)  # as the user gave it, like every other message

    # -- helpers -------------------------------------------------------------------------------------------------
    def fail(self, op: RawOperator, msg: str) -> BadInput:
        return BadInput(f"{self.where}: {op.describe()}: {msg}")

    def t(self, index: int) -> RawTensor:
        return self.raw.tensors[index]

    def canon(self, index: int) -> int:
        while index in self.alias:
            index = self.alias[index]
        return index

    def act_tensor(self, op: RawOperator, index: int, role: str, dtype: str = "int8") -> Tensor:
        raw = self.t(index)
        if raw.is_const:
            # The kernels read activations from the arena: a constant here would be planned but never written.
            raise self.fail(
                op, f"{role} {raw.describe()} is a constant; {op.name} with a constant operand is not supported yet"
            )
        if raw.dtype != dtype:
            raise self.fail(op, f"{role} {raw.describe()} is {raw.dtype}, expected {dtype}")
        if dtype == "int8" and (len(raw.scales) != 1 or len(raw.zero_points) != 1):
            raise self.fail(op, f"{role} {raw.describe()} has no per-tensor quantization (scale/zero point)")
        shape = raw.shape
        # the kernels lowered here walk NHWC tensors of one image; the registry's operators take any batch
        batched = op.name in (*PER_IMAGE_OPS, *ANY_BATCH_OPS) or op.name in BY_BUILTIN or self.variant(op) is not None
        if len(shape) == 4 and shape[0] != 1 and not batched:
            raise self.fail(op, f"{role} {raw.describe()} has batch {shape[0]}; only batch 1 is supported")
        cid = self.canon(index)
        if cid not in self.tensors:
            base = self.t(cid)
            self.tensors[cid] = Tensor(
                cid,
                base.name,
                base.shape,
                base.dtype,
                base.scales[0] if base.scales else 1.0,
                base.zero_points[0] if base.zero_points else 0,
            )
        return Tensor(
            cid,
            raw.name,
            shape,
            raw.dtype,
            raw.scales[0] if raw.scales else 1.0,
            raw.zero_points[0] if raw.zero_points else 0,
        )

    def variant(self, op: RawOperator) -> Operator | None:
        """The registry variant for the types of the operator's first non-constant input and first output."""
        first_in = next((self.t(i).dtype for i in op.inputs if i >= 0 and i not in self.consts), "")
        return variant_for(op.name, first_in, self.t(op.outputs[0]).dtype if op.outputs else "")

    def state_tensor(self, op: RawOperator, index: int, role: str, dtype: str = "int8") -> Tensor:
        """A variable tensor (LSTM / SVDF state): read and written in place by its operator, kept between
        invocations, set to its zero point by the model's reset (as TFLM's ResetVariableTensors)."""
        raw = self.t(index)
        if not raw.variable:
            raise self.fail(op, f"{role} {raw.describe()} is not marked variable: TFLM keeps this state in one")
        t = self.act_tensor(op, index, role, dtype)
        self.tensors[t.id].variable = t.variable = True
        return t

    def const_values(self, op: RawOperator, index: int) -> np.ndarray | None:
        """The values of tensor `index` when known at compile time: a constant of the file, or folded here."""
        return self.consts.get(index)

    def const(self, op: RawOperator, index: int, role: str, dtype: str) -> RawTensor:
        raw = self.t(index)
        if raw.data is None:
            raise self.fail(
                op, f"{role} {raw.describe()} must be a constant (weights computed at run time are not supported)"
            )
        if raw.dtype != dtype:
            raise self.fail(op, f"{role} {raw.describe()} is {raw.dtype}, expected {dtype}")
        return raw

    def activation(self, op: RawOperator, out: Tensor) -> tuple[int, int]:
        act = op.options.get("activation", "NONE")
        if act not in ACTIVATIONS_SUPPORTED:
            raise self.fail(
                op, f"fused activation {act} is not supported (supported: {', '.join(ACTIVATIONS_SUPPORTED)})"
            )
        return quant.activation_range(act, out.scale, out.zero_point)

    # -- validation ----------------------------------------------------------------------------------------------
    def check_supported_and_integer(self) -> None:
        # Whole-model refusals (accelerator-compiled, sparse, hybrid, float) first: they name the real problem,
        # where the first operator without a kernel would not.
        refusals.check_model(self.raw, SHAPE_OPS)
        for op in self.raw.operators:
            if op.name not in SUPPORTED_OPS and op.name not in SHAPE_OPS:
                what = f"custom operator '{op.name.split(':', 1)[1]}'" if op.name.startswith("CUSTOM:") else op.name
                raise self.fail(
                    op,
                    f"{what} is not supported by the compiler; {tflm_support(op.name)} "
                    f"(compiled: {', '.join(SUPPORTED_OPS)}; folded: {', '.join(SHAPE_OPS)})",
                )

    # -- shape folding -------------------------------------------------------------------------------------------
    def fold_shape_op(self, op: RawOperator) -> None:
        name = op.name
        if name == "SHAPE":
            src = self.t(op.inputs[0])
            shape = [max(d, 1) for d in src.shape]  # a dynamic batch (-1) is batch 1
            self.consts[op.outputs[0]] = np.array(shape, dtype=np.int32)
            return
        if name == "STRIDED_SLICE":
            vals = [self.consts.get(i) for i in op.inputs[:4]]
            if any(v is None for v in vals) or vals[0] is None or vals[0].ndim != 1:
                raise self.fail(
                    op,
                    "STRIDED_SLICE on a run-time tensor; only the constant shape chain of a Flatten "
                    "(SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE) is folded",
                )
            data, begin, end, strides = (np.asarray(v) for v in vals)
            o = op.options
            b = 0 if o.get("begin_mask", 0) & 1 else int(begin[0])
            e = len(data) if o.get("end_mask", 0) & 1 else int(end[0])
            s = int(strides[0])
            if o.get("shrink_axis_mask", 0) & 1:
                self.consts[op.outputs[0]] = np.array(data[b], dtype=np.int32)
            else:
                self.consts[op.outputs[0]] = np.asarray(data[b:e:s], dtype=np.int32)
            return
        if name == "PACK":
            vals = [self.consts.get(i) for i in op.inputs]
            if any(v is None for v in vals):
                raise self.fail(op, "PACK of a run-time tensor; only the constant shape chain of a Flatten is folded")
            self.consts[op.outputs[0]] = np.stack([np.asarray(v) for v in vals], axis=op.options.get("axis", 0))
            return
        # RESHAPE / EXPAND_DIMS / SQUEEZE: the bytes do not move, so the output is the input under another shape.
        src, dst = self.t(op.inputs[0]), self.t(op.outputs[0])
        if src.data is not None:
            raise self.fail(op, f"{name} of a constant tensor is not supported")
        n_src = int(np.prod([max(d, 1) for d in src.shape])) if src.shape else 1
        n_dst = int(np.prod([max(d, 1) for d in dst.shape])) if dst.shape else 1
        if n_src != n_dst:
            raise self.fail(
                op, f"{name} changes the element count: {src.describe()} has {n_src}, {dst.describe()} has {n_dst}"
            )
        if src.dtype != dst.dtype:
            raise self.fail(op, f"{name} changes the type from {src.dtype} to {dst.dtype}")
        self.alias[op.outputs[0]] = self.canon(op.inputs[0])

    # -- lowering ------------------------------------------------------------------------------------------------
    def lower(self) -> Graph:
        self.check_supported_and_integer()
        if not self.raw.outputs or not self.raw.inputs:
            raise BadInput(
                f"{self.where}: the model has {len(self.raw.inputs)} inputs and {len(self.raw.outputs)} outputs; "
                "a model needs at least one of each"
            )
        for op in self.raw.operators:
            try:
                # STRIDED_SLICE of a constant (a Flatten's shape chain) folds; of an activation it is a kernel
                variant = self.variant(op)
                if variant is not None:  # e.g. the 16x8 form of an operator whose int8 form is lowered here
                    got = variant.lower(self, op)
                    self.layers.extend(got if isinstance(got, list) else [got])
                elif op.name == "PACK" and any(i not in self.consts for i in op.inputs):
                    self.lower_pack(op)  # of activations: a concatenation along a new axis
                elif op.name in SHAPE_OPS and not (op.name in BY_BUILTIN and op.inputs[0] not in self.consts):
                    self.fold_shape_op(op)
                elif op.name in BY_BUILTIN:
                    got = BY_BUILTIN[op.name].lower(self, op)  # one kernel call, or several (SPLIT: one per output)
                    self.layers.extend(got if isinstance(got, list) else [got])
                else:
                    getattr(self, "lower_" + op.name.lower())(op)
            except BadInput:
                raise
            except Exception as e:  # a corrupt file can hold any shape or option: report it, never a traceback
                raise self.fail(op, f"malformed operator ({type(e).__name__}: {e}); the file may be corrupt") from None
        if not self.layers:
            raise BadInput(f"{self.where}: the model has no compute operator")
        in_ids = [self.canon(i) for i in self.raw.inputs]
        out_ids = [self.canon(o) for o in self.raw.outputs]
        for role, ti in [*(("input", i) for i in in_ids), *(("output", o) for o in out_ids)]:
            if ti not in self.tensors:
                raise BadInput(f"{self.where}: model {role} {self.t(ti).describe()} is not used by any kernel")
        # The model's own I/O shapes (before aliasing) are what a runner sees.
        for raw_i, cid in zip([*self.raw.inputs, *self.raw.outputs], [*in_ids, *out_ids], strict=True):
            self.tensors[cid].shape = tuple(max(d, 1) for d in self.t(raw_i).shape)
        if set(out_ids) & set(in_ids):
            raise BadInput(f"{self.where}: a model output is one of its inputs (nothing computes it)")
        if len(set(out_ids)) != len(out_ids) or len(set(in_ids)) != len(in_ids):
            raise BadInput(f"{self.where}: the model lists one tensor as two of its inputs or outputs")
        return Graph(
            self.raw.path.stem,
            self.raw.path,
            self.raw.file_bytes,
            self.tensors,
            self.layers,
            in_ids,
            out_ids[0],
            out_ids,
        )

    def _bias(self, op: RawOperator, n: int) -> np.ndarray | None:
        if len(op.inputs) < 3 or op.inputs[2] < 0:
            return None
        b = self.const(op, op.inputs[2], "bias", "int32")
        if b.data is None or b.data.size != n:
            raise self.fail(op, f"bias {b.describe()} has {0 if b.data is None else b.data.size} values, expected {n}")
        return b.data.astype(np.int32).reshape(-1)

    def _filter_scales(self, op: RawOperator, f: RawTensor, n: int) -> list[float]:
        if not f.scales:
            raise self.fail(op, f"filter {f.describe()} is not quantized")
        if any(z != 0 for z in f.zero_points):
            raise self.fail(op, f"filter {f.describe()} has a non-zero zero point; int8 weights must be symmetric")
        if len(f.scales) not in (1, n):
            raise self.fail(op, f"filter {f.describe()} has {len(f.scales)} scales for {n} output channels")
        return f.scales if len(f.scales) == n else f.scales * n

    @staticmethod
    def _fold_ok(bias: np.ndarray, filt_abs_sum: np.ndarray) -> bool:
        # The folded sum must stay inside int32 for every possible input, or the fold would not be exact.
        return bool(np.all(np.abs(bias.astype(np.int64)) + 128 * filt_abs_sum <= quant.INT32_MAX))

    def _batch(self, op: RawOperator, x: Tensor, y: Tensor) -> int:
        """The images of a 4-D NHWC operator (input and output batch must agree)."""
        if len(x.shape) == 4 and len(y.shape) == 4 and x.shape[0] != y.shape[0]:
            raise self.fail(op, f"input batch {x.shape[0]} and output batch {y.shape[0]} differ")
        return max(int(x.shape[0]), 1) if len(x.shape) == 4 else 1

    def _conv_like(self, op: RawOperator, depthwise: bool) -> None:
        x = self.act_tensor(op, op.inputs[0], "input")
        y = self.act_tensor(op, op.outputs[0], "output")
        f = self.const(op, op.inputs[1], "filter", "int8")
        assert f.data is not None
        if len(x.shape) != 4 or len(y.shape) != 4 or f.data.ndim != 4:
            raise self.fail(op, "input, filter and output must be 4-D (NHWC)")
        batch = self._batch(op, x, y)
        _, ih, iw, ic = x.shape
        _, oh, ow, oc = y.shape
        o = op.options
        sh, sw = o["stride_h"], o["stride_w"]
        dh, dw = max(o["dilation_h"], 1), max(o["dilation_w"], 1)
        if depthwise:
            _, kh, kw, foc = f.data.shape
            dm = foc // ic if ic else 0
            if foc != oc or dm * ic != oc or dm < 1:
                raise self.fail(
                    op, f"filter {f.describe()} does not match input channels {ic} and output channels {oc}"
                )
            if o["depth_multiplier"] not in (0, dm) and ic != 1:
                raise self.fail(op, f"depth_multiplier {o['depth_multiplier']} disagrees with the shapes ({dm})")
        else:
            foc, kh, kw, fic = f.data.shape
            dm = 1
            if foc != oc:
                raise self.fail(op, f"filter {f.describe()} has {foc} output channels, output has {oc}")
            if fic != ic:
                raise self.fail(
                    op, f"grouped convolution (filter has {fic} input channels, input has {ic}) is not supported"
                )
        for axis, size, k, s, d, got in (("height", ih, kh, sh, dh, oh), ("width", iw, kw, sw, dw, ow)):
            want = compute_out_size(o["padding"], size, k, s, d)
            if want != got:
                raise self.fail(op, f"output {axis} is {got}, {o['padding']} padding gives {want}")
        ph = compute_padding(sh, dh, ih, kh, oh)
        pw = compute_padding(sw, dw, iw, kw, ow)
        scales = self._filter_scales(op, f, oc)
        mult = np.zeros(oc, np.int32)
        shift = np.zeros(oc, np.int32)
        for c in range(oc):
            # Per channel, all in double: double(input scale) * double(filter scale) / double(output scale).
            m, s = quant.quantize_multiplier(x.scale * scales[c] / y.scale)
            mult[c], shift[c] = m, s
        act_min, act_max = self.activation(op, y)
        bias = self._bias(op, oc)
        filt = f.data.astype(np.int8)
        input_offset = -x.zero_point
        all_inside = (
            ph == 0 and pw == 0 and (oh - 1) * sh + (kh - 1) * dh + 1 <= ih and (ow - 1) * sw + (kw - 1) * dw + 1 <= iw
        )
        folded = False
        if input_offset != 0 and all_inside:
            axes = (1, 2, 3) if not depthwise else (0, 1, 2)
            fsum = filt.astype(np.int64).sum(axis=axes).reshape(-1)
            fabs = np.abs(filt.astype(np.int64)).sum(axis=axes).reshape(-1)
            b64 = (bias.astype(np.int64) if bias is not None else np.zeros(oc, np.int64)) + input_offset * fsum
            if self._fold_ok(b64, fabs):
                bias = b64.astype(np.int32)
                input_offset = 0
                folded = True
        consts: dict[str, np.ndarray] = {"filter": filt, "multiplier": mult, "shift": shift}
        if bias is not None:
            consts["bias"] = bias
        macs = oh * ow * oc * kh * kw * (1 if depthwise else ic)
        self.layers.append(
            Layer(
                op.index,
                op.name,
                "dwconv2d" if depthwise else "conv2d",
                [x.id],
                y.id,
                dict(
                    in_h=ih,
                    in_w=iw,
                    in_c=ic,
                    out_h=oh,
                    out_w=ow,
                    out_c=oc,
                    k_h=kh,
                    k_w=kw,
                    stride_h=sh,
                    stride_w=sw,
                    dil_h=dh,
                    dil_w=dw,
                    pad_h=ph,
                    pad_w=pw,
                    depth_multiplier=dm,
                    input_offset=input_offset,
                    output_offset=y.zero_point,
                    act_min=act_min,
                    act_max=act_max,
                ),
                consts,
                macs=macs * batch,
                params=int(filt.size + (bias.size if bias is not None else 0)),
                folded_zero_point=folded,
                batch=batch,
            )
        )

    def lower_conv_2d(self, op: RawOperator) -> None:
        self._conv_like(op, depthwise=False)

    def lower_depthwise_conv_2d(self, op: RawOperator) -> None:
        self._conv_like(op, depthwise=True)

    def lower_fully_connected(self, op: RawOperator) -> None:
        x = self.act_tensor(op, op.inputs[0], "input")
        y = self.act_tensor(op, op.outputs[0], "output")
        f = self.const(op, op.inputs[1], "weights", "int8")
        assert f.data is not None
        if op.options.get("weights_format", 0) != 0:
            raise self.fail(op, "shuffled weights format is not supported")
        if f.data.ndim != 2:
            raise self.fail(op, f"weights {f.describe()} must be 2-D")
        n, k = f.data.shape
        if x.elements % k:
            raise self.fail(op, f"input '{x.name}' has {x.elements} elements, not a multiple of the weights' depth {k}")
        batches = x.elements // k  # rows: a Dense applied at every position of a feature map (TFLM: same kernel)
        if y.elements != n * batches:
            raise self.fail(op, f"output has {y.elements} elements, expected {n * batches}")
        if not f.scales:
            raise self.fail(op, f"weights {f.describe()} are not quantized")
        per_channel = len(f.scales) > 1
        if per_channel:
            if len(f.scales) != n:
                raise self.fail(op, f"weights {f.describe()} have {len(f.scales)} scales for {n} outputs")
            mults = [quant.quantize_multiplier(x.scale * s / y.scale) for s in f.scales]
        else:
            # Per tensor: GetQuantizedConvolutionMultipler multiplies input and filter scale in float32 first.
            mults = [quant.quantize_multiplier(quant.f32(x.scale * f.scales[0]) / y.scale)]
        filter_zp = f.zero_points[0] if f.zero_points else 0
        mult = np.array([m for m, _ in mults], np.int32)
        shift = np.array([s for _, s in mults], np.int32)
        act_min, act_max = self.activation(op, y)
        bias = self._bias(op, n)
        filt = f.data.astype(np.int8)
        input_offset = -x.zero_point
        folded = False
        if input_offset != 0 and filter_zp == 0:
            fsum = filt.astype(np.int64).sum(axis=1)
            fabs = np.abs(filt.astype(np.int64)).sum(axis=1)
            b0 = bias.astype(np.int64) if bias is not None else np.zeros(n, np.int64)
            b64 = b0 + input_offset * fsum
            if self._fold_ok(b64, fabs):
                bias, input_offset, folded = b64.astype(np.int32), 0, True
        consts: dict[str, np.ndarray] = {"filter": filt, "multiplier": mult, "shift": shift}
        if bias is not None:
            consts["bias"] = bias
        self.layers.append(
            Layer(
                op.index,
                op.name,
                "fc",
                [x.id],
                y.id,
                dict(
                    batches=batches,
                    in_depth=k,
                    out_depth=n,
                    input_offset=input_offset,
                    filter_offset=-filter_zp,
                    output_offset=y.zero_point,
                    act_min=act_min,
                    act_max=act_max,
                    per_channel=int(per_channel),
                ),
                consts,
                macs=batches * n * k,
                params=int(filt.size + (bias.size if bias is not None else 0)),
                folded_zero_point=folded,
            )
        )

    def _pool(self, op: RawOperator, kind: str) -> None:
        x = self.act_tensor(op, op.inputs[0], "input")
        y = self.act_tensor(op, op.outputs[0], "output")
        if len(x.shape) != 4 or len(y.shape) != 4:
            raise self.fail(op, "input and output must be 4-D (NHWC)")
        batch = self._batch(op, x, y)
        _, ih, iw, c = x.shape
        _, oh, ow, oc = y.shape
        o = op.options
        kh, kw, sh, sw = o["filter_h"], o["filter_w"], o["stride_h"], o["stride_w"]
        for axis, size, k, s, got in (("height", ih, kh, sh, oh), ("width", iw, kw, sw, ow)):
            want = compute_out_size(o["padding"], size, k, s, 1)
            if want != got:
                raise self.fail(op, f"output {axis} is {got}, {o['padding']} padding gives {want}")
        if oc != c:
            raise self.fail(op, "pooling changes the channel count")
        act_min, act_max = self.activation(op, y)
        self.layers.append(
            Layer(
                op.index,
                op.name,
                kind,
                [x.id],
                y.id,
                dict(
                    in_h=ih,
                    in_w=iw,
                    channels=c,
                    out_h=oh,
                    out_w=ow,
                    k_h=kh,
                    k_w=kw,
                    stride_h=sh,
                    stride_w=sw,
                    pad_h=compute_padding(sh, 1, ih, kh, oh),
                    pad_w=compute_padding(sw, 1, iw, kw, ow),
                    act_min=act_min,
                    act_max=act_max,
                ),
                macs=oh * ow * c * kh * kw * batch,
                batch=batch,
            )
        )

    def lower_average_pool_2d(self, op: RawOperator) -> None:
        self._pool(op, "avgpool")

    def lower_max_pool_2d(self, op: RawOperator) -> None:
        self._pool(op, "maxpool")

    def _broadcast(self, op: RawOperator, a: Tensor, b: Tensor, y: Tensor) -> dict[str, Any]:
        if max(len(a.shape), len(b.shape), len(y.shape)) > 4:
            raise self.fail(op, "broadcasting beyond 4 dimensions is not supported")
        sa, sb, sy = _shape4(a.shape), _shape4(b.shape), _shape4(y.shape)
        for d in range(4):
            for s in (sa, sb):
                if s[d] not in (1, sy[d]):
                    raise self.fail(
                        op, f"shapes {list(a.shape)} and {list(b.shape)} do not broadcast to {list(y.shape)}"
                    )

        def strides(s: tuple[int, int, int, int]) -> list[int]:
            full = [s[1] * s[2] * s[3], s[2] * s[3], s[3], 1]
            return [0 if s[d] == 1 and sy[d] != 1 else full[d] for d in range(4)]

        return dict(out_shape=list(sy), in1_strides=strides(sa), in2_strides=strides(sb), size=y.elements)

    def _eltwise(self, op: RawOperator) -> tuple[Tensor, Tensor, Tensor, dict[str, Any]]:
        """ADD / MUL operands, either of which may be a constant (emitted to flash, passed to the kernel): the two
        inputs' quantization and shapes, the output, and the Layer fields that say where each operand is."""
        ins = operands(self, op, ("input 1", "input 2"))
        (_, a, _), (_, b, _) = ins
        consts = {str(arg): np.asarray(v) for arg, _, v in ins if v is not None}
        where = dict(
            inputs=[arg for arg, _, _ in ins if isinstance(arg, int)], consts=consts, args=[arg for arg, _, _ in ins]
        )
        return a, b, self.act_tensor(op, op.outputs[0], "output"), where

    def lower_add(self, op: RawOperator) -> None:
        a, b, y, where = self._eltwise(op)
        p = self._broadcast(op, a, b, y)
        left_shift = 20
        twice_max = 2 * max(quant.f32(a.scale), quant.f32(b.scale))
        m1 = quant.quantize_multiplier(a.scale / twice_max)
        m2 = quant.quantize_multiplier(b.scale / twice_max)
        mo = quant.quantize_multiplier(twice_max / ((1 << left_shift) * y.scale))
        for m in (m1, m2, mo):
            if m[1] > 0:
                raise self.fail(op, "the output scale is too small for TFLM's int8 ADD (multiplier >= 1)")
        act_min, act_max = self.activation(op, y)
        p.update(
            in1_offset=-a.zero_point,
            in2_offset=-b.zero_point,
            out_offset=y.zero_point,
            left_shift=left_shift,
            in1_mult=m1[0],
            in1_shift=m1[1],
            in2_mult=m2[0],
            in2_shift=m2[1],
            out_mult=mo[0],
            out_shift=mo[1],
            act_min=act_min,
            act_max=act_max,
        )
        self.layers.append(Layer(op.index, op.name, "add", output=y.id, p=p, macs=y.elements, **where))

    def lower_mul(self, op: RawOperator) -> None:
        a, b, y, where = self._eltwise(op)
        p = self._broadcast(op, a, b, y)
        m, s = quant.quantize_multiplier(a.scale * b.scale / y.scale)
        act_min, act_max = self.activation(op, y)
        p.update(
            in1_offset=-a.zero_point,
            in2_offset=-b.zero_point,
            out_offset=y.zero_point,
            left_shift=0,
            in1_mult=0,
            in1_shift=0,
            in2_mult=0,
            in2_shift=0,
            out_mult=m,
            out_shift=s,
            act_min=act_min,
            act_max=act_max,
        )
        self.layers.append(Layer(op.index, op.name, "mul", output=y.id, p=p, macs=y.elements, **where))

    def lower_softmax(self, op: RawOperator) -> None:
        x = self.act_tensor(op, op.inputs[0], "input")
        y = self.act_tensor(op, op.outputs[0], "output")
        if y.zero_point != -128 or abs(y.scale - 1 / 256) > 0.001 / 256:
            raise self.fail(
                op, f"int8 SOFTMAX needs output scale 1/256 and zero point -128, got {y.scale} and {y.zero_point}"
            )
        beta = float(op.options.get("beta", 1.0))
        scaled_diff_integer_bits = 5
        real = min(beta * x.scale * (1 << (31 - scaled_diff_integer_bits)), (1 << 31) - 1.0)
        m, left_shift = quant.quantize_multiplier(real)
        if left_shift < 0:
            raise self.fail(op, "input scale too small for TFLM's int8 SOFTMAX")
        diff_min = -quant.calculate_input_radius(scaled_diff_integer_bits, left_shift)
        depth = x.shape[-1] if x.shape else 1
        self.layers.append(
            Layer(
                op.index,
                op.name,
                "softmax",
                [x.id],
                y.id,
                dict(
                    outer=x.elements // depth,
                    depth=depth,
                    input_multiplier=m,
                    input_left_shift=left_shift,
                    diff_min=diff_min,
                ),
                macs=x.elements,
            )
        )

    def _sigmoid_like(self, op: RawOperator, kind: str, out_zp: int, out_scale: float) -> None:
        x = self.act_tensor(op, op.inputs[0], "input")
        y = self.act_tensor(op, op.outputs[0], "output")
        if y.zero_point != out_zp or abs(y.scale - out_scale) > 0.001 * out_scale:
            raise self.fail(
                op,
                f"int8 {op.name} needs output scale {out_scale} and zero point {out_zp}, got "
                f"{y.scale} and {y.zero_point}",
            )
        input_integer_bits = 4
        real = x.scale * float(1 << (31 - input_integer_bits))
        q, left_shift = math.frexp(real)
        m = quant.wrap32(quant.tflite_round(q * (1 << 31))).item()
        radius = quant.calculate_input_radius(input_integer_bits, left_shift, 31)
        self.layers.append(
            Layer(
                op.index,
                op.name,
                kind,
                [x.id],
                y.id,
                dict(
                    size=x.elements,
                    input_zp=x.zero_point,
                    range_radius=radius,
                    input_multiplier=int(m),
                    input_left_shift=left_shift,
                ),
                macs=x.elements,
            )
        )

    def lower_logistic(self, op: RawOperator) -> None:
        self._sigmoid_like(op, "logistic", -128, 1 / 256)

    def lower_tanh(self, op: RawOperator) -> None:
        self._sigmoid_like(op, "tanh", 0, 1 / 128)

    def lower_pack(self, op: RawOperator) -> None:
        """PACK of int8 activations: the inputs (equal shapes and quantization) side by side along a new axis, which
        is a concatenation of each input's rows of prod(shape[axis:]) elements: the concat kernel."""
        y = self.act_tensor(op, op.outputs[0], "output")
        xs = [self.act_tensor(op, i, f"input {k}") for k, i in enumerate(op.inputs)]
        shape = xs[0].shape
        axis = op.options.get("axis", 0) % (len(shape) + 1)
        for k, x in enumerate(xs):
            if x.shape != shape:
                raise self.fail(op, f"input {k} '{x.name}' has shape {list(x.shape)}, input 0 {list(shape)}")
            if (x.scale, x.zero_point) != (y.scale, y.zero_point):
                raise self.fail(op, f"input {k} '{x.name}' is quantized unlike the output; int8 PACK moves bytes")
        want = (*shape[:axis], len(xs), *shape[axis:])
        if tuple(y.shape) != want:
            raise self.fail(op, f"output {list(y.shape)}: packing {len(xs)} inputs on axis {axis} gives {list(want)}")
        outer = int(np.prod(shape[:axis])) if axis else 1
        self._concat_layer(op, xs, y, outer, [int(np.prod(shape[axis:])) if axis < len(shape) else 1] * len(xs))

    def _concat_layer(self, op: RawOperator, xs: list[Tensor], y: Tensor, outer: int, sizes: list[int]) -> None:
        """The concat kernel's call: per outer index, `sizes[k]` elements of input k in turn."""
        self.layers.append(
            Layer(
                op.index,
                op.name,
                "concat",
                [x.id for x in xs],
                y.id,
                dict(outer=outer, n_inputs=len(xs), copy_sizes=sizes),
            )
        )

    def lower_concatenation(self, op: RawOperator) -> None:
        y = self.act_tensor(op, op.outputs[0], "output")
        xs = [self.act_tensor(op, i, f"input {k}") for k, i in enumerate(op.inputs)]
        if op.options.get("activation", "NONE") != "NONE":
            raise self.fail(op, "a fused activation on CONCATENATION is not supported")
        rank = len(y.shape)
        axis = op.options.get("axis", 0) % max(rank, 1)
        for k, x in enumerate(xs):
            if x.scale != y.scale or x.zero_point != y.zero_point:
                raise self.fail(
                    op,
                    f"input {k} '{x.name}' has scale/zero point {x.scale}/{x.zero_point}, output has "
                    f"{y.scale}/{y.zero_point}; int8 CONCATENATION needs them equal",
                )
            if len(x.shape) != rank:
                raise self.fail(op, f"input {k} '{x.name}' has rank {len(x.shape)}, output {rank}")
        outer = int(np.prod(y.shape[:axis])) if axis else 1
        sizes = [int(np.prod(x.shape[axis:])) for x in xs]
        if outer * sum(sizes) != y.elements:
            raise self.fail(op, "input shapes do not add up to the output shape")
        self._concat_layer(op, xs, y, outer, sizes)

    def lower_quantize(self, op: RawOperator) -> None:
        src = self.t(op.inputs[0])
        y = self.act_tensor(op, op.outputs[0], "output")
        if src.dtype == "float32":
            x = self.act_tensor(op, op.inputs[0], "input", dtype="float32")
            self.layers.append(
                Layer(
                    op.index,
                    op.name,
                    "quantize",
                    [x.id],
                    y.id,
                    dict(size=y.elements, scale=quant.f32(y.scale), zero_point=y.zero_point),
                    macs=y.elements,
                )
            )
            return
        x = self.act_tensor(op, op.inputs[0], "input")
        m, s = quant.quantize_multiplier(x.scale / y.scale)
        self.layers.append(
            Layer(
                op.index,
                op.name,
                "requantize",
                [x.id],
                y.id,
                dict(size=y.elements, input_zp=x.zero_point, output_zp=y.zero_point, multiplier=m, shift=s),
                macs=y.elements,
            )
        )

    def lower_dequantize(self, op: RawOperator) -> None:
        x = self.act_tensor(op, op.inputs[0], "input")
        y = self.act_tensor(op, op.outputs[0], "output", dtype="float32")
        self.layers.append(
            Layer(
                op.index,
                op.name,
                "dequantize",
                [x.id],
                y.id,
                dict(size=x.elements, scale=x.scale, zero_point=x.zero_point),
                macs=x.elements,
            )
        )


def lower_model(raw: RawModel) -> Graph:
    try:
        return _Lowerer(raw).lower()
    except BadInput:
        raise
    except Exception as e:  # inconsistent indices or shapes outside any one operator: a corrupt file
        raise BadInput(f"{raw.path}: malformed model ({type(e).__name__}: {e}); the file may be corrupt") from None


def load_graph(path: Path) -> Graph:
    return lower_model(read_tflite(Path(path)))
