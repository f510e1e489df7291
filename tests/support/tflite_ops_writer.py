"""Options tables for the operators added after tflite_writer's own list, registered into its EXTRA_OPTIONS hook,
and one-operator model helpers for the per-operator tests in tests/ops/."""

from __future__ import annotations

from typing import Any

import flatbuffers
import numpy as np
import tflite
from tflite.BuiltinOptions import BuiltinOptions
from tflite_writer import ACT, EXTRA_OPTIONS, Op, T, build_model


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
