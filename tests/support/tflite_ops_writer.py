"""Options tables for the operators added after tflite_writer's own list, registered into its EXTRA_OPTIONS hook,
and one-operator model helpers for the per-operator tests in tests/ops/."""

from __future__ import annotations

from typing import Any

import flatbuffers
import numpy as np
import tflite
from tflite.BuiltinOptions import BuiltinOptions
from tflite_writer import ACT, EXTRA_OPTIONS, TYPE_CODES, Op, T, build_model


def _sub(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
    tflite.SubOptionsStart(b)
    tflite.SubOptionsAddFusedActivationFunction(b, ACT[o.get("activation", "NONE")])
    return BuiltinOptions.SubOptions, tflite.SubOptionsEnd(b)


def _transpose(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
    tflite.TransposeOptionsStart(b)
    return BuiltinOptions.TransposeOptions, tflite.TransposeOptionsEnd(b)


def _resize_nearest(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
    tflite.ResizeNearestNeighborOptionsStart(b)
    tflite.ResizeNearestNeighborOptionsAddAlignCorners(b, bool(o.get("align_corners", False)))
    tflite.ResizeNearestNeighborOptionsAddHalfPixelCenters(b, bool(o.get("half_pixel_centers", False)))
    return BuiltinOptions.ResizeNearestNeighborOptions, tflite.ResizeNearestNeighborOptionsEnd(b)


def _reducer(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
    tflite.ReducerOptionsStart(b)
    tflite.ReducerOptionsAddKeepDims(b, bool(o.get("keep_dims", False)))
    return BuiltinOptions.ReducerOptions, tflite.ReducerOptionsEnd(b)


EXTRA_OPTIONS.update({"SUB": _sub, "TRANSPOSE": _transpose, "RESIZE_NEAREST_NEIGHBOR": _resize_nearest})
EXTRA_OPTIONS.update({"REDUCE_MAX": _reducer, "REDUCE_MIN": _reducer})


def _space_to_depth(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
    tflite.SpaceToDepthOptionsStart(b)
    tflite.SpaceToDepthOptionsAddBlockSize(b, int(o.get("block_size", 2)))
    return BuiltinOptions.SpaceToDepthOptions, tflite.SpaceToDepthOptionsEnd(b)


def _depth_to_space(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
    tflite.DepthToSpaceOptionsStart(b)
    tflite.DepthToSpaceOptionsAddBlockSize(b, int(o.get("block_size", 2)))
    return BuiltinOptions.DepthToSpaceOptions, tflite.DepthToSpaceOptionsEnd(b)


def _gather(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
    tflite.GatherOptionsStart(b)
    tflite.GatherOptionsAddAxis(b, int(o.get("axis", 0)))
    tflite.GatherOptionsAddBatchDims(b, int(o.get("batch_dims", 0)))
    return BuiltinOptions.GatherOptions, tflite.GatherOptionsEnd(b)


def _empty(name: str) -> Any:
    """The writer of an options table without fields (SliceOptions, AbsOptions, ...), as converters write them."""

    def write(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
        getattr(tflite, f"{name}Start")(b)
        return getattr(BuiltinOptions, name), getattr(tflite, f"{name}End")(b)

    return write


EXTRA_OPTIONS.update({"SPACE_TO_DEPTH": _space_to_depth, "DEPTH_TO_SPACE": _depth_to_space, "GATHER": _gather})
EXTRA_OPTIONS.update({"SLICE": _empty("SliceOptions"), "ABS": _empty("AbsOptions")})
EXTRA_OPTIONS.update({"SPACE_TO_BATCH_ND": _empty("SpaceToBatchNDOptions")})
EXTRA_OPTIONS.update({"BATCH_TO_SPACE_ND": _empty("BatchToSpaceNDOptions")})


def _resize_bilinear(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
    tflite.ResizeBilinearOptionsStart(b)
    tflite.ResizeBilinearOptionsAddAlignCorners(b, bool(o.get("align_corners", False)))
    tflite.ResizeBilinearOptionsAddHalfPixelCenters(b, bool(o.get("half_pixel_centers", False)))
    return BuiltinOptions.ResizeBilinearOptions, tflite.ResizeBilinearOptionsEnd(b)


def _l2norm(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
    tflite.L2NormOptionsStart(b)
    tflite.L2NormOptionsAddFusedActivationFunction(b, ACT[o.get("activation", "NONE")])
    return BuiltinOptions.L2NormOptions, tflite.L2NormOptionsEnd(b)


def _log_softmax(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
    tflite.LogSoftmaxOptionsStart(b)
    return BuiltinOptions.LogSoftmaxOptions, tflite.LogSoftmaxOptionsEnd(b)


def _div(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
    tflite.DivOptionsStart(b)
    tflite.DivOptionsAddFusedActivationFunction(b, ACT[o.get("activation", "NONE")])
    return BuiltinOptions.DivOptions, tflite.DivOptionsEnd(b)


EXTRA_OPTIONS.update({"SUM": _reducer, "RESIZE_BILINEAR": _resize_bilinear, "L2_NORMALIZATION": _l2norm})
EXTRA_OPTIONS.update({"LOG_SOFTMAX": _log_softmax, "DIV": _div})


def _svdf(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
    tflite.SVDFOptionsStart(b)
    tflite.SVDFOptionsAddRank(b, int(o.get("rank", 1)))
    tflite.SVDFOptionsAddFusedActivationFunction(b, ACT[o.get("activation", "NONE")])
    tflite.SVDFOptionsAddAsymmetricQuantizeInputs(b, bool(o.get("asymmetric_quantize_inputs", False)))
    return BuiltinOptions.SVDFOptions, tflite.SVDFOptionsEnd(b)


EXTRA_OPTIONS.update({"SVDF": _svdf})


def _lstm(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
    act = {**ACT, "SIGN_BIT": 5}[o.get("activation", "TANH")]  # what converters write, or a refused one
    tflite.UnidirectionalSequenceLSTMOptionsStart(b)
    tflite.UnidirectionalSequenceLSTMOptionsAddFusedActivationFunction(b, act)
    tflite.UnidirectionalSequenceLSTMOptionsAddCellClip(b, float(o.get("cell_clip", 0.0)))
    tflite.UnidirectionalSequenceLSTMOptionsAddProjClip(b, float(o.get("proj_clip", 0.0)))
    tflite.UnidirectionalSequenceLSTMOptionsAddTimeMajor(b, bool(o.get("time_major", False)))
    asym = bool(o.get("asymmetric_quantize_inputs", False))
    tflite.UnidirectionalSequenceLSTMOptionsAddAsymmetricQuantizeInputs(b, asym)
    diag = bool(o.get("diagonal_recurrent_tensors", False))
    tflite.UnidirectionalSequenceLSTMOptionsAddDiagonalRecurrentTensors(b, diag)
    return BuiltinOptions.UnidirectionalSequenceLSTMOptions, tflite.UnidirectionalSequenceLSTMOptionsEnd(b)


EXTRA_OPTIONS.update({"UNIDIRECTIONAL_SEQUENCE_LSTM": _lstm})


def _arg_min_max(name: str) -> Any:
    def write(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
        getattr(tflite, f"{name}OptionsStart")(b)
        getattr(tflite, f"{name}OptionsAddOutputType")(b, TYPE_CODES[o.get("output_type", "int32")])
        return getattr(BuiltinOptions, f"{name}Options"), getattr(tflite, f"{name}OptionsEnd")(b)

    return write


EXTRA_OPTIONS.update({"ARG_MAX": _arg_min_max("ArgMax"), "ARG_MIN": _arg_min_max("ArgMin")})


def _transpose_conv(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
    tflite.TransposeConvOptionsStart(b)
    padding = o.get("padding", "SAME")
    tflite.TransposeConvOptionsAddPadding(b, {"SAME": 0, "VALID": 1}.get(padding, padding))  # an int: a bad one
    tflite.TransposeConvOptionsAddStrideW(b, int(o.get("stride_w", 1)))
    tflite.TransposeConvOptionsAddStrideH(b, int(o.get("stride_h", 1)))
    tflite.TransposeConvOptionsAddFusedActivationFunction(b, ACT[o.get("activation", "NONE")])
    return BuiltinOptions.TransposeConvOptions, tflite.TransposeConvOptionsEnd(b)


EXTRA_OPTIONS.update({"TRANSPOSE_CONV": _transpose_conv})
EXTRA_OPTIONS.update({"EQUAL": _empty("EqualOptions"), "NOT_EQUAL": _empty("NotEqualOptions")})
EXTRA_OPTIONS.update({"LESS": _empty("LessOptions"), "LESS_EQUAL": _empty("LessEqualOptions")})
EXTRA_OPTIONS.update({"GREATER": _empty("GreaterOptions"), "GREATER_EQUAL": _empty("GreaterEqualOptions")})
EXTRA_OPTIONS.update({"SELECT_V2": _empty("SelectV2Options")})


def _split(name: str) -> Any:
    def write(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
        getattr(tflite, f"{name}OptionsStart")(b)
        getattr(tflite, f"{name}OptionsAddNumSplits")(b, int(o.get("num_splits", 1)))
        return getattr(BuiltinOptions, f"{name}Options"), getattr(tflite, f"{name}OptionsEnd")(b)

    return write


EXTRA_OPTIONS.update({"SPLIT": _split("Split"), "SPLIT_V": _split("SplitV")})


def _cast(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
    tflite.CastOptionsStart(b)
    if "in_data_type" in o:
        tflite.CastOptionsAddInDataType(b, TYPE_CODES[o["in_data_type"]])
        tflite.CastOptionsAddOutDataType(b, TYPE_CODES[o["out_data_type"]])
    return BuiltinOptions.CastOptions, tflite.CastOptionsEnd(b)


EXTRA_OPTIONS.update({"CAST": _cast})


def _unpack(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
    tflite.UnpackOptionsStart(b)
    tflite.UnpackOptionsAddNum(b, int(o.get("num", 0)))
    tflite.UnpackOptionsAddAxis(b, int(o.get("axis", 0)))
    return BuiltinOptions.UnpackOptions, tflite.UnpackOptionsEnd(b)


def _mirror_pad(b: flatbuffers.Builder, o: dict[str, Any]) -> tuple[int, int]:
    tflite.MirrorPadOptionsStart(b)
    tflite.MirrorPadOptionsAddMode(b, int(o.get("mode", 0)))
    return BuiltinOptions.MirrorPadOptions, tflite.MirrorPadOptionsEnd(b)


EXTRA_OPTIONS.update({"UNPACK": _unpack, "MIRROR_PAD": _mirror_pad})
# -- options of operators added later: their writer functions above, their EXTRA_OPTIONS.update lines above this --

Q = tuple[float, int]  # (scale, zero point)


def unary_model(op: str, shape: tuple[int, ...], q_in: Q, q_out: Q, out_shape: tuple[int, ...] | None = None) -> bytes:
    tensors = [T("x", shape, "int8", [q_in[0]], [q_in[1]]), T("y", out_shape or shape, "int8", [q_out[0]], [q_out[1]])]
    return build_model(tensors, [Op(op, [0], [1])], [0], [1])


def const_operand_model(
    op: str, shape: tuple[int, ...], operand: list[int], out_shape: tuple[int, ...], q: Q, options: dict[str, Any]
) -> bytes:
    """x (int8) and a constant int32 vector (a permutation, a size) in, one int8 tensor out, same quantization."""
    tensors = [
        T("x", shape, "int8", [q[0]], [q[1]]),
        T("operand", (len(operand),), "int32", data=np.array(operand, dtype=np.int32)),
        T("y", out_shape, "int8", [q[0]], [q[1]]),
    ]
    return build_model(tensors, [Op(op, [0, 1], [2], options)], [0], [2])


def binary_model(op: str, shapes: tuple[tuple[int, ...], ...], quant: tuple[Q, Q, Q], options: dict[str, Any]) -> bytes:
    tensors = [T(n, s, "int8", [q[0]], [q[1]]) for n, s, q in zip(("a", "b", "y"), shapes, quant, strict=True)]
    return build_model(tensors, [Op(op, [0, 1], [2], options)], [0, 1], [2])
