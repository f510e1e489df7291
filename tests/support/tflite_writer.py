"""Write small .tflite models with the flatbuffers builder (no TensorFlow): one-operator models for kernel tests,
and deliberately broken ones for the compiler's error messages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import flatbuffers
import numpy as np
import tflite
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions

TYPE_CODES = {"float32": 0, "int32": 2, "uint8": 3, "int64": 4, "bool": 6, "int16": 7, "int8": 9}
PADDING = {"SAME": 0, "VALID": 1}
ACT = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3, "TANH": 4}
# builtin op name -> writer of its options table: (BuiltinOptions type, offset)
EXTRA_OPTIONS: dict[str, Callable[[flatbuffers.Builder, dict[str, Any]], tuple[int, int]]] = {}


@dataclass
class T:
    """A tensor: activation when data is None, else a constant."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "int8"
    scales: list[float] = field(default_factory=list)
    zero_points: list[int] = field(default_factory=list)
    qdim: int = 0
    data: np.ndarray | None = None
    sparse: bool = False  # write SparsityParameters (traversal order only): a pruned model's compressed tensor
    variable: bool = False  # is_variable: a state tensor the interpreter keeps between invocations (LSTM, SVDF)


@dataclass
class Op:
    name: str  # builtin operator name, or CUSTOM:<custom code>
    inputs: list[int]  # tensor indices, -1 for an absent optional input
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    intermediates: list[int] = field(default_factory=list)  # tensor indices (the quantized LSTM's gate scales)


def _vec(b: flatbuffers.Builder, start: Any, values: list[int], kind: str = "int32") -> int:
    start(b, len(values))
    for v in reversed(values):
        {"int32": b.PrependInt32, "int64": b.PrependInt64, "float32": b.PrependFloat32, "uint8": b.PrependUint8}[kind](
            v
        )
    return b.EndVector()


def _options(b: flatbuffers.Builder, op: Op) -> tuple[int, int]:
    o = op.options
    n = op.name
    if n == "CONV_2D":
        tflite.Conv2DOptionsStart(b)
        tflite.Conv2DOptionsAddPadding(b, PADDING[o.get("padding", "VALID")])
        tflite.Conv2DOptionsAddStrideW(b, o.get("stride_w", 1))
        tflite.Conv2DOptionsAddStrideH(b, o.get("stride_h", 1))
        tflite.Conv2DOptionsAddDilationWFactor(b, o.get("dilation_w", 1))
        tflite.Conv2DOptionsAddDilationHFactor(b, o.get("dilation_h", 1))
        tflite.Conv2DOptionsAddFusedActivationFunction(b, ACT[o.get("activation", "NONE")])
        return BuiltinOptions.Conv2DOptions, tflite.Conv2DOptionsEnd(b)
    if n == "DEPTHWISE_CONV_2D":
        tflite.DepthwiseConv2DOptionsStart(b)
        tflite.DepthwiseConv2DOptionsAddPadding(b, PADDING[o.get("padding", "VALID")])
        tflite.DepthwiseConv2DOptionsAddStrideW(b, o.get("stride_w", 1))
        tflite.DepthwiseConv2DOptionsAddStrideH(b, o.get("stride_h", 1))
        tflite.DepthwiseConv2DOptionsAddDilationWFactor(b, o.get("dilation_w", 1))
        tflite.DepthwiseConv2DOptionsAddDilationHFactor(b, o.get("dilation_h", 1))
        tflite.DepthwiseConv2DOptionsAddDepthMultiplier(b, o.get("depth_multiplier", 1))
        tflite.DepthwiseConv2DOptionsAddFusedActivationFunction(b, ACT[o.get("activation", "NONE")])
        return BuiltinOptions.DepthwiseConv2DOptions, tflite.DepthwiseConv2DOptionsEnd(b)
    if n == "FULLY_CONNECTED":
        tflite.FullyConnectedOptionsStart(b)
        tflite.FullyConnectedOptionsAddFusedActivationFunction(b, ACT[o.get("activation", "NONE")])
        tflite.FullyConnectedOptionsAddKeepNumDims(b, bool(o.get("keep_num_dims", False)))
        return BuiltinOptions.FullyConnectedOptions, tflite.FullyConnectedOptionsEnd(b)
    if n in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        tflite.Pool2DOptionsStart(b)
        tflite.Pool2DOptionsAddPadding(b, PADDING[o.get("padding", "VALID")])
        tflite.Pool2DOptionsAddStrideW(b, o.get("stride_w", 1))
        tflite.Pool2DOptionsAddStrideH(b, o.get("stride_h", 1))
        tflite.Pool2DOptionsAddFilterWidth(b, o["filter_w"])
        tflite.Pool2DOptionsAddFilterHeight(b, o["filter_h"])
        tflite.Pool2DOptionsAddFusedActivationFunction(b, ACT[o.get("activation", "NONE")])
        return BuiltinOptions.Pool2DOptions, tflite.Pool2DOptionsEnd(b)
    if n == "ADD":
        tflite.AddOptionsStart(b)
        tflite.AddOptionsAddFusedActivationFunction(b, ACT[o.get("activation", "NONE")])
        return BuiltinOptions.AddOptions, tflite.AddOptionsEnd(b)
    if n == "MUL":
        tflite.MulOptionsStart(b)
        tflite.MulOptionsAddFusedActivationFunction(b, ACT[o.get("activation", "NONE")])
        return BuiltinOptions.MulOptions, tflite.MulOptionsEnd(b)
    if n == "SOFTMAX":
        tflite.SoftmaxOptionsStart(b)
        tflite.SoftmaxOptionsAddBeta(b, o.get("beta", 1.0))
        return BuiltinOptions.SoftmaxOptions, tflite.SoftmaxOptionsEnd(b)
    if n == "CONCATENATION":
        tflite.ConcatenationOptionsStart(b)
        tflite.ConcatenationOptionsAddAxis(b, o.get("axis", -1))
        tflite.ConcatenationOptionsAddFusedActivationFunction(b, ACT[o.get("activation", "NONE")])
        return BuiltinOptions.ConcatenationOptions, tflite.ConcatenationOptionsEnd(b)
    if n == "MEAN":
        tflite.ReducerOptionsStart(b)
        tflite.ReducerOptionsAddKeepDims(b, bool(o.get("keep_dims", True)))
        return BuiltinOptions.ReducerOptions, tflite.ReducerOptionsEnd(b)
    if n == "LEAKY_RELU":
        tflite.LeakyReluOptionsStart(b)
        tflite.LeakyReluOptionsAddAlpha(b, o.get("alpha", 0.2))
        return BuiltinOptions.LeakyReluOptions, tflite.LeakyReluOptionsEnd(b)
    if n == "RESHAPE":
        tflite.ReshapeOptionsStart(b)
        return BuiltinOptions.ReshapeOptions, tflite.ReshapeOptionsEnd(b)
    if n == "STRIDED_SLICE":
        tflite.StridedSliceOptionsStart(b)
        tflite.StridedSliceOptionsAddBeginMask(b, o.get("begin_mask", 0))
        tflite.StridedSliceOptionsAddEndMask(b, o.get("end_mask", 0))
        tflite.StridedSliceOptionsAddShrinkAxisMask(b, o.get("shrink_axis_mask", 0))
        tflite.StridedSliceOptionsAddEllipsisMask(b, o.get("ellipsis_mask", 0))
        tflite.StridedSliceOptionsAddNewAxisMask(b, o.get("new_axis_mask", 0))
        tflite.StridedSliceOptionsAddOffset(b, bool(o.get("offset", False)))
        return BuiltinOptions.StridedSliceOptions, tflite.StridedSliceOptionsEnd(b)
    if n == "PACK":
        tflite.PackOptionsStart(b)
        tflite.PackOptionsAddValuesCount(b, o.get("values_count", len(op.inputs)))
        tflite.PackOptionsAddAxis(b, o.get("axis", 0))
        return BuiltinOptions.PackOptions, tflite.PackOptionsEnd(b)
    if n == "SHAPE":
        tflite.ShapeOptionsStart(b)
        tflite.ShapeOptionsAddOutType(b, TYPE_CODES["int32"])
        return BuiltinOptions.ShapeOptions, tflite.ShapeOptionsEnd(b)
    if n in EXTRA_OPTIONS:  # options of operators added later (tests/support/tflite_ops_writer.py)
        return EXTRA_OPTIONS[n](b, o)
    return BuiltinOptions.NONE, 0


def build_model(tensors: list[T], ops: list[Op], inputs: list[int], outputs: list[int]) -> bytes:
    b = flatbuffers.Builder(1024)
    # Buffers: 0 is the mandatory empty sentinel; each constant gets its own.
    buffer_offsets = []
    tflite.BufferStart(b)
    buffer_offsets.append(tflite.BufferEnd(b))
    tensor_buffer: list[int] = []
    for t in tensors:
        if t.data is None:
            tensor_buffer.append(0)
            continue
        raw = np.ascontiguousarray(t.data).tobytes()
        b.StartVector(1, len(raw), 16)
        b.head = b.head - len(raw)
        b.Bytes[b.head : b.head + len(raw)] = raw
        data_vec = b.EndVector()
        tflite.BufferStart(b)
        tflite.BufferAddData(b, data_vec)
        buffer_offsets.append(tflite.BufferEnd(b))
        tensor_buffer.append(len(buffer_offsets) - 1)

    tensor_offsets = []
    for t, buf in zip(tensors, tensor_buffer, strict=True):
        name = b.CreateString(t.name)
        shape = _vec(b, tflite.TensorStartShapeVector, list(t.shape))
        q = None
        if t.scales or t.zero_points:
            sc = _vec(b, tflite.QuantizationParametersStartScaleVector, list(t.scales), "float32")
            zp = _vec(b, tflite.QuantizationParametersStartZeroPointVector, list(t.zero_points), "int64")
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, sc)
            tflite.QuantizationParametersAddZeroPoint(b, zp)
            tflite.QuantizationParametersAddQuantizedDimension(b, t.qdim)
            q = tflite.QuantizationParametersEnd(b)
        sp = None
        if t.sparse:
            order = _vec(b, tflite.SparsityParametersStartTraversalOrderVector, list(range(len(t.shape))))
            tflite.SparsityParametersStart(b)
            tflite.SparsityParametersAddTraversalOrder(b, order)
            sp = tflite.SparsityParametersEnd(b)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        if sp is not None:
            tflite.TensorAddSparsity(b, sp)
        tflite.TensorAddType(b, TYPE_CODES[t.dtype])
        tflite.TensorAddBuffer(b, buf)
        tflite.TensorAddName(b, name)
        if t.variable:
            tflite.TensorAddIsVariable(b, True)
        if q is not None:
            tflite.TensorAddQuantization(b, q)
        tensor_offsets.append(tflite.TensorEnd(b))

    codes: list[str] = []
    for op in ops:
        if op.name not in codes:
            codes.append(op.name)
    op_offsets = []
    for op in ops:
        opt_type, opt = _options(b, op)
        ins = _vec(b, tflite.OperatorStartInputsVector, op.inputs)
        outs = _vec(b, tflite.OperatorStartOutputsVector, op.outputs)
        mids = _vec(b, tflite.OperatorStartIntermediatesVector, op.intermediates) if op.intermediates else None
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, codes.index(op.name))
        tflite.OperatorAddInputs(b, ins)
        tflite.OperatorAddOutputs(b, outs)
        if mids is not None:
            tflite.OperatorAddIntermediates(b, mids)
        if opt_type:
            tflite.OperatorAddBuiltinOptionsType(b, opt_type)
            tflite.OperatorAddBuiltinOptions(b, opt)
        op_offsets.append(tflite.OperatorEnd(b))

    def vec_of(start: Any, offs: list[int]) -> int:
        start(b, len(offs))
        for o in reversed(offs):
            b.PrependUOffsetTRelative(o)
        return b.EndVector()

    t_vec = vec_of(tflite.SubGraphStartTensorsVector, tensor_offsets)
    o_vec = vec_of(tflite.SubGraphStartOperatorsVector, op_offsets)
    in_vec = _vec(b, tflite.SubGraphStartInputsVector, inputs)
    out_vec = _vec(b, tflite.SubGraphStartOutputsVector, outputs)
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, t_vec)
    tflite.SubGraphAddOperators(b, o_vec)
    tflite.SubGraphAddInputs(b, in_vec)
    tflite.SubGraphAddOutputs(b, out_vec)
    sg = tflite.SubGraphEnd(b)

    oc_offsets = []
    for name in codes:
        custom = b.CreateString(name.split(":", 1)[1]) if name.startswith("CUSTOM:") else None
        code = BuiltinOperator.CUSTOM if custom is not None else getattr(BuiltinOperator, name)
        tflite.OperatorCodeStart(b)
        if custom is not None:
            tflite.OperatorCodeAddCustomCode(b, custom)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        tflite.OperatorCodeAddBuiltinCode(b, code)
        tflite.OperatorCodeAddVersion(b, next((op.version for op in ops if op.name == name), 1))
        oc_offsets.append(tflite.OperatorCodeEnd(b))
    oc_vec = vec_of(tflite.ModelStartOperatorCodesVector, oc_offsets)
    sg_vec = vec_of(tflite.ModelStartSubgraphsVector, [sg])
    buf_vec = vec_of(tflite.ModelStartBuffersVector, buffer_offsets)
    desc = b.CreateString("tinyml-cosim test model")
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, oc_vec)
    tflite.ModelAddSubgraphs(b, sg_vec)
    tflite.ModelAddDescription(b, desc)
    tflite.ModelAddBuffers(b, buf_vec)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())
