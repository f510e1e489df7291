"""Every operator of the registry (nn/ops/) through the whole compiler: a model that uses it is lowered, planned and
emitted to model.c, that C is built for the host with the kernels and run, and its output is compared byte for byte
with tflite-micro and with the numpy golden over the lowered graph; one model using them all runs in QEMU. Constant
operands (SUB's, PRELU's alpha) are emitted to flash and passed to the kernel. The registry itself is checked: each
operator has a header declaring its descriptor and kernel, a ref C file, and a case here."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tflite_ops_writer  # noqa: F401  (registers the options writers of SUB, TRANSPOSE, RESIZE, REDUCE_*)
from hostbuild import build_library, cmsis_nn_dir, load, run_graph_c
from signal_models import SPECTRAL_SUBTRACTION, filter_bank_tables
from tflite_custom_writer import custom_model
from tflite_writer import Op, T, build_model

from tinyml_cosim.core import resources
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.compiler import compile_model
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import SUPPORTED_OPS, lower_model
from tinyml_cosim.nn.ir import NP_DTYPES
from tinyml_cosim.nn.ops import BY_BUILTIN, REGISTRY
from tinyml_cosim.nn.reference import run_numpy
from tinyml_cosim.nn.tflite_reader import parse_tflite

NN = resources.FIRMWARE_DIR / "nn"
needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
needs_cc = pytest.mark.skipif(not (shutil.which("gcc") or shutil.which("cc")), reason="no host C compiler (gcc/cc)")


def _i8(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, shape).astype(np.int8)


def _i32(values: list[int]) -> np.ndarray:
    return np.array(values, np.int32)


@dataclass(frozen=True)
class Case:
    """A one-input model built around one registry operator (`builtin`)."""

    id: str
    builtin: str
    tensors: list[T]
    ops: list[Op]
    output: int
    custom: dict[int, dict[str, Any]] | None = None  # CUSTOM operators' options (tflite_custom_writer)


def _unary(builtin: str, shape: tuple[int, ...], q_in: tuple[float, int], q_out: tuple[float, int]) -> Case:
    tensors = [T("x", shape, "int8", [q_in[0]], [q_in[1]]), T("y", shape, "int8", [q_out[0]], [q_out[1]])]
    return Case(builtin.lower(), builtin, tensors, [Op(builtin, [0], [1])], 1)


def _with_const(
    builtin: str, shape: tuple[int, ...], const_shape: tuple[int, ...], q3: list[tuple[float, int]], **options: Any
) -> Case:
    """x (op) a constant int8 operand, broadcast: what a normalisation layer exports (x - mean, PReLU alpha)."""
    out_shape = tuple(int(d) for d in np.broadcast_shapes(shape, const_shape))
    (sx, zx), (sc, zc), (sy, zy) = q3
    tensors = [
        T("x", shape, "int8", [sx], [zx]),
        T("c", const_shape, "int8", [sc], [zc], data=_i8(const_shape, len(shape))),
        T("y", out_shape, "int8", [sy], [zy]),
    ]
    return Case(f"{builtin.lower()}_const", builtin, tensors, [Op(builtin, [0, 1], [2], options)], 2)


def _self_binary(builtin: str, shape: tuple[int, ...]) -> Case:
    """op(RELU(x), x): both operands from the arena."""
    tensors = [
        T("x", shape, "int8", [0.06], [-3]),
        T("r", shape, "int8", [0.05], [-128]),
        T("y", shape, "int8", [0.08], [4]),
    ]
    ops = [Op("RELU", [0], [1]), Op(builtin, [1, 0], [2])]
    return Case(f"{builtin.lower()}_arena", builtin, tensors, ops, 2)


def _shape_op(builtin: str, shape: tuple[int, ...], operand: list[int], out: tuple[int, ...], **options: Any) -> Case:
    q = ([0.04], [7])
    tensors = [
        T("x", shape, "int8", *q),
        T("operand", (len(operand),), "int32", data=_i32(operand)),
        T("y", out, "int8", *q),
    ]
    return Case(
        f"{builtin.lower()}_{'_'.join(map(str, operand))}", builtin, tensors, [Op(builtin, [0, 1], [2], options)], 2
    )


CASES = [
    _with_const("SUB", (1, 3, 4, 8), (8,), [(0.05, -2), (0.03, 10), (0.07, 0)], activation="RELU6"),
    _self_binary("SUB", (1, 5, 7)),
    _with_const("SQUARED_DIFFERENCE", (1, 6, 6, 4), (1, 1, 4), [(0.05, 1), (0.04, -9), (0.02, -128)]),
    _self_binary("SQUARED_DIFFERENCE", (2, 33)),
    _with_const("PRELU", (1, 4, 5, 6), (1, 1, 6), [(0.05, -7), (0.01, 3), (0.06, 2)]),
    _unary("HARD_SWISH", (1, 7, 7, 5), (0.05, 11), (0.03, -60)),
    _unary("RELU", (1, 9, 13), (0.1, -20), (0.05, -128)),
    _unary("RELU6", (1, 4, 4, 4), (0.04, -10), (0.04, -10)),
    _shape_op("TRANSPOSE", (1, 3, 5, 4), [0, 2, 1, 3], (1, 5, 3, 4)),
    _shape_op("TRANSPOSE", (2, 3, 4), [2, 0, 1], (4, 2, 3)),
    _shape_op("RESIZE_NEAREST_NEIGHBOR", (1, 3, 4, 2), [6, 8], (1, 6, 8, 2)),
    _shape_op("RESIZE_NEAREST_NEIGHBOR", (1, 5, 5, 3), [3, 7], (1, 3, 7, 3), half_pixel_centers=True),
    _shape_op("REDUCE_MAX", (1, 4, 6, 5), [1, 2], (1, 5), keep_dims=False),
    _shape_op("REDUCE_MIN", (1, 4, 6, 5), [-1], (1, 4, 6, 1), keep_dims=True),
    Case(
        "space_to_depth",
        "SPACE_TO_DEPTH",
        [T("x", (1, 4, 6, 3), "int8", [0.05], [-3]), T("y", (1, 2, 3, 12), "int8", [0.05], [-3])],
        [Op("SPACE_TO_DEPTH", [0], [1], {"block_size": 2})],
        1,
    ),
    Case(
        "depth_to_space",
        "DEPTH_TO_SPACE",
        [T("x", (1, 2, 3, 18), "int8", [0.05], [6]), T("y", (1, 6, 9, 2), "int8", [0.05], [6])],
        [Op("DEPTH_TO_SPACE", [0], [1], {"block_size": 3})],
        1,
    ),
    Case(
        "slice_int64",
        "SLICE",
        [
            T("x", (1, 5, 6, 7), "int8", [0.04], [2]),
            T("begin", (4,), "int64", data=np.array([0, 1, 2, 3], np.int64)),
            T("size", (4,), "int64", data=np.array([1, -1, 3, 2], np.int64)),
            T("y", (1, 4, 3, 2), "int8", [0.04], [2]),
        ],
        [Op("SLICE", [0, 1, 2], [3])],
        3,
    ),
    _shape_op("GATHER", (1, 5, 6), [4, 0, 4], (1, 3, 6), axis=-2),
    Case(
        "space_to_batch_nd_3d",
        "SPACE_TO_BATCH_ND",
        [
            T("x", (1, 8, 4), "int8", [0.05], [-9]),
            T("block", (1,), "int32", data=_i32([2])),
            T("pad", (1, 2), "int32", data=np.zeros((1, 2), np.int32)),  # TFLM's padding is its uninitialised memory
            T("y", (2, 4, 4), "int8", [0.05], [-9]),
        ],
        [Op("SPACE_TO_BATCH_ND", [0, 1, 2], [3])],
        3,
    ),
    Case(
        "batch_to_space_nd_3d",
        "BATCH_TO_SPACE_ND",
        [
            T("x", (2, 4, 4), "int8", [0.05], [-9]),
            T("block", (1,), "int32", data=_i32([2])),
            T("crops", (1, 2), "int32", data=np.array([[1, 0]], np.int32)),
            T("y", (1, 7, 4), "int8", [0.05], [-9]),
        ],
        [Op("BATCH_TO_SPACE_ND", [0, 1, 2], [3])],
        3,
    ),
    _unary("ABS", (1, 6, 7), (0.05, 9), (0.03, -128)),
    Case(
        "leaky_relu",
        "LEAKY_RELU",
        [T("x", (1, 6, 9), "int8", [0.05], [-7]), T("y", (1, 6, 9), "int8", [0.03], [20])],
        [Op("LEAKY_RELU", [0], [1], {"alpha": -0.3})],
        1,
    ),
    _with_const("MAXIMUM", (1, 4, 5, 6), (1, 1, 6), [(0.05, -3), (0.05, -3), (0.05, -3)]),
    _self_binary("MINIMUM", (3, 7)),
    _shape_op("SUM", (1, 4, 6, 5), [1, 2], (1, 5), keep_dims=False),
    Case(
        "sum_requantized",
        "SUM",
        [
            T("x", (2, 3, 7), "int8", [0.04], [7]),
            T("axes", (2,), "int32", data=_i32([-1, 0])),
            T("y", (1, 3, 1), "int8", [0.9], [-3]),
        ],
        [Op("SUM", [0, 1], [2], {"keep_dims": True})],
        2,
    ),
    _shape_op("RESIZE_BILINEAR", (1, 3, 4, 2), [6, 7], (1, 6, 7, 2), half_pixel_centers=True),
    _shape_op("RESIZE_BILINEAR", (1, 5, 5, 3), [3, 8], (1, 3, 8, 3), align_corners=True),
    _unary("L2_NORMALIZATION", (1, 5, 12), (0.05, 3), (1 / 128, 0)),
    _unary("LOG_SOFTMAX", (2, 3, 10), (0.1, -4), (16 / 256, 127)),
    _with_const("DIV", (1, 3, 4, 8), (8,), [(0.05, -2), (0.03, 100), (0.07, 0)], activation="RELU"),
    _unary("RSQRT", (1, 6, 7), (0.05, -128), (0.02, -100)),
    *(  # SVDF: int8 state (zero point 5) and int16 state; each input from the reset state (a fresh TFLM)
        Case(
            f"svdf_{dt}",
            "SVDF",
            [
                T("x", (1, 16), "int8", [0.05], [-3]),
                T("wf", (6, 16), "int8", [0.01], [0], data=_i8((6, 16), 41)),
                T("wt", (6, 4), dt, [s_wt], [0], data=np.random.default_rng(42).integers(-lim, lim, (6, 4)).astype(dt)),
                T("b", (3,), "int32", [float(np.float32(s_st) * np.float32(s_wt))], [0], data=_i32([900, -4000, 77])),
                T("state", (1, 24), dt, [s_st], [zp], variable=True),
                T("y", (1, 3), "int8", [s_out], [2]),
            ],
            [Op("SVDF", [0, 1, 2, 3, 4], [5], {"rank": 2})],
            5,
        )
        for dt, lim, s_st, zp, s_wt, s_out in [
            ("int8", 128, 0.27, 5, 0.005, 0.28),
            ("int16", 32768, 1e-3, 0, 1e-5, 0.15),
        ]
    ),
    *(
        Case(
            f"{name.lower()}_axis{axis}",
            name,
            [
                T("x", (1, 6, 5, 7), "int8", [0.1], [3]),
                T("axis", (1,), dt, data=np.array([axis], dt)),
                T("y", out, "int32"),
            ],
            [Op(name, [0, 1], [2], {"output_type": "int32"})],
            2,
        )
        for name, axis, dt, out in [("ARG_MAX", -1, "int32", (1, 6, 5)), ("ARG_MIN", 1, "int32", (1, 5, 7))]
    ),
    Case(  # UNIDIRECTIONAL_SEQUENCE_LSTM (tests/ops/lstm_models.py writes every variety): 3 steps, 4 units, clip
        "unidirectional_sequence_lstm",
        "UNIDIRECTIONAL_SEQUENCE_LSTM",
        [
            T("x", (1, 3, 5), "int8", [0.04], [-5]),
            *(
                T(f"w{k}", (4, 5 - k // 4), "int8", [0.003 + k / 2000], [0], data=_i8((4, 5 - k // 4), 60 + k))
                for k in range(8)
            ),
            *(
                T(f"b{k}", (4,), "int32", [0.04 * (0.003 + k / 2000)], [0], data=_i32([900 * k - 2000, 3000, -7, 5]))
                for k in range(4)
            ),
            T("h", (1, 4), "int8", [1 / 128], [3], variable=True),
            T("c", (1, 4), "int16", [2.0**-11], [0], variable=True),
            *(T(f"mid{k}", (0,), "int16" if k < 4 else "int8", [2.0**-12], [0]) for k in range(5)),  # unread
            T("y", (1, 3, 4), "int8", [1 / 128], [3]),
        ],
        [
            Op(
                "UNIDIRECTIONAL_SEQUENCE_LSTM",
                [0, 1, 2, 3, 4, 5, 6, 7, 8, -1, -1, -1, 9, 10, 11, 12, -1, -1, 13, 14, -1, -1, -1, -1],
                [20],
                {"activation": "TANH", "cell_clip": 3.0},
                intermediates=[15, 16, 17, 18, 19],
            )
        ],
        20,
    ),
    Case(
        "strided_slice",
        "STRIDED_SLICE",
        [
            T("x", (1, 8, 6, 4), "int8", [0.05], [-2]),
            T("b", (4,), "int32", data=_i32([0, 7, 1, 0])),
            T("e", (4,), "int32", data=_i32([1, 0, 6, 4])),
            T("s", (4,), "int32", data=_i32([1, -2, 2, 1])),
            T("y", (1, 4, 3, 4), "int8", [0.05], [-2]),
        ],
        [Op("STRIDED_SLICE", [0, 1, 2, 3], [4], {"begin_mask": 8})],
        4,
    ),
    Case(
        "transpose_conv_same_2x2",
        "TRANSPOSE_CONV",
        [
            T("x", (1, 4, 5, 3), "int8", [0.05], [-4]),
            T("output_shape", (4,), "int32", data=_i32([1, 8, 10, 6])),
            T("filter", (6, 3, 3, 3), "int8", [0.004, 0.006, 0.01, 0.003, 0.008, 0.005], [0] * 6, data=_i8((6, 27), 2)),
            T("bias", (6,), "int32", data=_i32([-900, 400, 0, 2500, -60, 7])),
            T("y", (1, 8, 10, 6), "int8", [0.06], [3]),
        ],
        [
            Op(
                "TRANSPOSE_CONV",
                [1, 2, 0, 3],
                [4],
                {"padding": "SAME", "stride_h": 2, "stride_w": 2, "activation": "RELU"},
            )
        ],
        4,
    ),
    Case(
        "split",
        "SPLIT",
        [
            T("x", (1, 4, 6, 8), "int8", [0.05], [-2]),
            T("axis", (), "int32", data=np.array(-1, np.int32)),
            T("y0", (1, 4, 6, 4), "int8", [0.05], [-2]),
            T("y1", (1, 4, 6, 4), "int8", [0.05], [-2]),
        ],
        [Op("SPLIT", [1, 0], [2, 3], {"num_splits": 2})],
        3,
    ),
    Case(
        "split_v",
        "SPLIT_V",
        [
            T("x", (1, 9, 6), "int8", [0.05], [5]),
            T("sizes", (3,), "int32", data=_i32([2, -1, 3])),
            T("axis", (), "int32", data=np.array(1, np.int32)),
            T("y0", (1, 2, 6), "int8", [0.05], [5]),
            T("y1", (1, 4, 6), "int8", [0.05], [5]),
            T("y2", (1, 3, 6), "int8", [0.05], [5]),
        ],
        [Op("SPLIT_V", [0, 1, 2], [3, 4, 5], {"num_splits": 3})],
        4,
    ),
    Case(
        "cast_int8_int32",
        "CAST",
        [T("x", (1, 5, 7), "int8", [0.05], [3]), T("y", (1, 5, 7), "int32")],
        [Op("CAST", [0], [1], {"in_data_type": "int8", "out_data_type": "int32"})],
        1,
    ),
    *[
        Case(  # x (op) a constant, broadcast: a bool tensor in the arena, which SELECT_V2 reads
            f"{name.lower()}_select",
            name,
            [
                T("x", (1, 4, 5, 6), "int8", [0.05], [3]),
                T("c", (1, 1, 6), "int8", [0.04], [-2], data=_i8((1, 1, 6), 31)),
                T("cond", (1, 4, 5, 6), "bool"),
                T("fill", (1, 5, 1), "int8", [0.05], [3], data=_i8((1, 5, 1), 32)),
                T("y", (1, 4, 5, 6), "int8", [0.05], [3]),
            ],
            [Op(name, [0, 1], [2]), Op("SELECT_V2", [2, 0, 3], [4])],
            4,
        )
        for name in ("EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL")
    ],
    Case(
        "select_v2_arena",
        "SELECT_V2",
        [
            T("x", (1, 3, 4, 5), "int8", [0.05], [-4]),
            T("r", (1, 3, 4, 5), "int8", [0.05], [-4]),
            T("cond", (1, 3, 4, 5), "bool"),
            T("y", (1, 3, 4, 5), "int8", [0.05], [-4]),
        ],
        [Op("RELU", [0], [1]), Op("LESS", [0, 1], [2]), Op("SELECT_V2", [2, 0, 1], [3])],
        3,
    ),
    Case(
        "quantize_uint8",
        "QUANTIZE",
        [T("x", (1, 4, 4, 3), "uint8", [0.02], [128]), T("y", (1, 4, 4, 3), "int8", [0.03], [-5])],
        [Op("QUANTIZE", [0], [1])],
        1,
    ),
    _shape_op("MEAN", (1, 5, 6, 8), [1, 2], (1, 8), keep_dims=False),
    Case(
        "pad",
        "PAD",
        [
            T("x", (1, 4, 5, 3), "int8", [0.05], [-9]),
            T("pads", (4, 2), "int32", data=_i32([0, 0, 1, 2, 0, 3, 1, 0]).reshape(4, 2)),
            T("y", (1, 7, 8, 4), "int8", [0.05], [-9]),
        ],
        [Op("PAD", [0, 1], [2])],
        2,
    ),
    Case(
        "padv2",
        "PADV2",
        [
            T("x", (1, 6, 7), "int8", [0.05], [4]),
            T("pads", (3, 2), "int32", data=_i32([0, 0, 2, 2, 1, 1]).reshape(3, 2)),
            T("value", (1,), "int8", [0.05], [4], data=np.array([-100], np.int8)),
            T("y", (1, 10, 9), "int8", [0.05], [4]),
        ],
        [Op("PADV2", [0, 1, 2], [3])],
        3,
    ),
    Case(
        "unpack",
        "UNPACK",
        [
            T("x", (1, 3, 5, 4), "int8", [0.05], [2]),
            T("y0", (1, 5, 4), "int8", [0.05], [2]),
            T("y1", (1, 5, 4), "int8", [0.05], [2]),
            T("y2", (1, 5, 4), "int8", [0.05], [2]),
        ],
        [Op("UNPACK", [0], [1, 2, 3], {"num": 3, "axis": 1})],
        2,
    ),
    Case(
        "mirror_pad_symmetric",
        "MIRROR_PAD",
        [
            T("x", (1, 5, 6, 3), "int8", [0.05], [-1]),
            T("pads", (4, 2), "int32", data=_i32([0, 0, 2, 1, 0, 3, 0, 0]).reshape(4, 2)),
            T("y", (1, 8, 9, 3), "int8", [0.05], [-1]),
        ],
        [Op("MIRROR_PAD", [0, 1], [2], {"mode": 1})],
        2,
    ),
    Case(  # the 16x8 path's output boundary (QUANTIZE float32 -> int16: _input makes no float input)
        "dequantize_16",
        "DEQUANTIZE",
        [T("x", (1, 4, 5, 6), "int16", [0.0007], [-5]), T("f", (1, 4, 5, 6), "float32")],
        [Op("DEQUANTIZE", [0], [1])],
        1,
    ),
    Case(  # int8 -> int16 -> int16 -> int8
        "requantize_16",
        "QUANTIZE",
        [
            T("x", (1, 3, 4, 5), "int8", [0.05], [-3]),
            T("a", (1, 3, 4, 5), "int16", [0.05 / 300], [0]),
            T("b", (1, 3, 4, 5), "int16", [0.05 / 200], [0]),
            T("y", (1, 3, 4, 5), "int8", [0.04], [6]),
        ],
        [Op("QUANTIZE", [0], [1]), Op("QUANTIZE", [1], [2]), Op("QUANTIZE", [2], [3])],
        3,
    ),
    Case(  # int8 -> int32 -> int16 -> int32 -> int8 (TFLM's Requantize to and from int32)
        "requantize_32",
        "QUANTIZE",
        [
            T("x", (1, 3, 4, 5), "int8", [0.05], [-3]),
            T("a", (1, 3, 4, 5), "int32", [0.05 / 7000], [0]),
            T("b", (1, 3, 4, 5), "int16", [0.05 / 200], [0]),
            T("c", (1, 3, 4, 5), "int32", [0.05 / 90000], [1]),
            T("y", (1, 3, 4, 5), "int8", [0.04], [6]),
        ],
        [Op("QUANTIZE", [0], [1]), Op("QUANTIZE", [1], [2]), Op("QUANTIZE", [2], [3]), Op("QUANTIZE", [3], [4])],
        4,
    ),
    Case(  # x + a constant, broadcast, RELU
        "add_16x8_const",
        "ADD",
        [
            T("x", (1, 3, 4, 8), "int16", [0.0004], [0]),
            T("c", (1, 1, 8), "int16", [0.0003], [0], data=np.arange(-8, 8, 2, dtype=np.int16) * 4000),
            T("y", (1, 3, 4, 8), "int16", [0.0006], [0]),
        ],
        [Op("ADD", [0, 1], [2], {"activation": "RELU"})],
        2,
    ),
    Case(
        "mul_16x8_arena",
        "MUL",
        [T("x", (1, 5, 7), "int16", [0.0005], [0]), T("y", (1, 5, 7), "int16", [0.2], [0])],
        [Op("MUL", [0, 0], [1])],
        1,
    ),
    *[
        Case(
            f"{name.lower()}_16",
            name,
            [T("x", (1, 4, 4, 6), "int16", [0.0009], [0]), T("y", (1, 4, 4, 6), "int16", [1 / 32768], [0])],
            [Op(name, [0], [1])],
            1,
        )
        for name in ("LOGISTIC", "TANH", "SOFTMAX")
    ],
    Case(
        "softmax_8_16",
        "SOFTMAX",
        [T("x", (1, 3, 4, 10), "int8", [0.1], [-3]), T("y", (1, 3, 4, 10), "int16", [1 / 65536], [-32768])],
        [Op("SOFTMAX", [0], [1])],
        1,
    ),
    Case(  # CONV_2D 16x8: SAME, stride 2, per-channel filter, int64 bias, RELU
        "conv2d_16x8",
        "CONV_2D",
        [
            T("x", (1, 6, 5, 3), "int16", [0.0005], [0]),
            T("f", (4, 3, 3, 3), "int8", [0.01, 0.02, 0.005, 0.015], [0] * 4, data=_i8((4, 3, 3, 3), 40)),
            T("b", (4,), "int64", [5e-6, 1e-5, 2.5e-6, 7.5e-6], [0] * 4, data=np.array([9000, -4000, 0, 2**33])),
            T("y", (1, 3, 3, 4), "int16", [0.004], [0]),
        ],
        [Op("CONV_2D", [0, 1, 2], [3], {"padding": "SAME", "stride_h": 2, "stride_w": 2, "activation": "RELU"})],
        3,
    ),
    Case(  # DEPTHWISE_CONV_2D 16x8: depth multiplier 2, dilation 2, no bias
        "dwconv2d_16x8",
        "DEPTHWISE_CONV_2D",
        [
            T("x", (1, 6, 6, 2), "int16", [0.0005], [0]),
            T("f", (1, 2, 2, 4), "int8", [0.01], [0], qdim=3, data=_i8((1, 2, 2, 4), 41)),
            T("y", (1, 4, 4, 4), "int16", [0.0008], [0]),
        ],
        [Op("DEPTHWISE_CONV_2D", [0, 1], [2], {"depth_multiplier": 2, "dilation_h": 2, "dilation_w": 2})],
        2,
    ),
    Case(  # FULLY_CONNECTED 16x8: per-tensor weights, int32 bias, zero points, three rows
        "fc_16x8",
        "FULLY_CONNECTED",
        [
            T("x", (3, 10), "int16", [0.0005], [4]),
            T("w", (5, 10), "int8", [0.01], [0], data=_i8((5, 10), 42)),
            T("b", (5,), "int32", [5e-6], [0], data=_i32([100000, -50000, 0, 7, -(2**30)])),
            T("y", (3, 5), "int16", [0.002], [-6]),
        ],
        [Op("FULLY_CONNECTED", [0, 1, 2], [3], {"activation": "RELU6"})],
        3,
    ),
    *[
        Case(  # int16 pooling: 3x3 windows, stride 2, SAME (partial windows at the edges)
            f"{name.lower()}_16",
            name,
            [T("x", (1, 7, 6, 3), "int16", [0.0004], [0]), T("y", (1, 4, 3, 3), "int16", [0.0004], [0])],
            [Op(name, [0], [1], {"filter_h": 3, "filter_w": 3, "stride_h": 2, "stride_w": 2, "padding": "SAME"})],
            1,
        )
        for name in ("AVERAGE_POOL_2D", "MAX_POOL_2D")
    ],
    Case(
        "quantize_f32_int16",
        "QUANTIZE",
        [T("x", (1, 6, 7), "float32"), T("y", (1, 6, 7), "int16", [4 / 32768], [0])],
        [Op("QUANTIZE", [0], [1])],
        1,
    ),
    Case(  # TFLM's Signal library (CUSTOM): a window over 2 frames of 48
        "signal_window",
        "CUSTOM:SignalWindow",
        [
            T("x", (2, 48), "int16"),
            T("w", (48,), "int16", data=np.arange(0, 48 * 600, 600, dtype=np.int16)),
            T("y", (2, 48), "int16"),
        ],
        [Op("CUSTOM:SignalWindow", [0, 1], [2])],
        2,
        {0: {"shift": 9}},
    ),
    *[
        Case(  # the front end's chain without its FFT, cut after each operator (uint32 / uint64 model outputs)
            f"signal_{name}",
            builtin,
            [
                T("x", (64,), "int16"),
                T("s", (64,), "int16"),
                T("b", (), "int32"),
                T("e", (32,), "uint32"),
                *filter_bank_tables(np.random.default_rng(4), 32, 6),
                T("f", (6,), "uint64"),
                T("r", (6,), "uint32"),
                T("l", (6,), "int16"),
            ],
            [
                Op("CUSTOM:SignalFftAutoScale", [0], [1, 2]),
                Op("CUSTOM:SignalEnergy", [1], [3]),
                Op("CUSTOM:SignalFilterBank", [3, 4, 5, 6, 7, 8], [9]),
                Op("CUSTOM:SignalFilterBankSquareRoot", [9, 2], [10]),
                Op("CUSTOM:SignalFilterBankLog", [10], [11]),
            ][:n_ops],
            [1, 3, 9, 10, 11][n_ops - 1],
            {
                k: v
                for k, v in enumerate(
                    [
                        {},
                        {"end_index": 32, "start_index": 0},
                        {"num_channels": 6},
                        {},
                        {"input_correction_bits": 3, "output_scale": 64},
                    ]
                )
                if k < n_ops
            },
        )
        for name, builtin, n_ops in (
            ("fft_auto_scale", "CUSTOM:SignalFftAutoScale", 1),
            ("energy", "CUSTOM:SignalEnergy", 2),
            ("filter_bank", "CUSTOM:SignalFilterBank", 3),
            ("filter_bank_square_root", "CUSTOM:SignalFilterBankSquareRoot", 4),
            ("filter_bank_log", "CUSTOM:SignalFilterBankLog", 5),
        )
    ],
    Case(  # TFLM's Signal library: the int16 real FFT (kissfft fixed point), 60 samples padded to 64
        "signal_rfft",
        "CUSTOM:SignalRfft",
        [T("x", (1, 60), "int16"), T("y", (1, 66), "int16")],
        [Op("CUSTOM:SignalRfft", [0], [1])],
        1,
        {0: {"T": 7, "fft_length": 64}},
    ),
    *[
        Case(  # the Signal library's noise reduction and gain control (its noise estimate is state, from reset)
            f"signal_{name}",
            builtin,
            [
                T("x", (12,), "int16"),
                T("u", (12,), "uint32"),
                T("s", (12,), "uint32"),
                T("noise", (12,), "uint32"),
                T("lut", (125,), "int16", data=np.repeat(np.linspace(32000, 200, 42), 3)[:125].astype(np.int16)),
                T("g", (12,), "uint32"),
            ],
            [
                Op("CAST", [0], [1]),
                Op("CUSTOM:SignalFilterBankSpectralSubtraction", [1], [2, 3]),
                Op("CUSTOM:SignalPCAN", [2, 3, 4], [5]),
            ][:n_ops],
            [2, 5][n_ops - 2],
            {1: {**SPECTRAL_SUBTRACTION, "num_channels": 12}, 2: {"snr_shift": 6}}
            if n_ops == 3
            else {1: {**SPECTRAL_SUBTRACTION, "num_channels": 12, "clamping": True}},
        )
        for name, builtin, n_ops in (
            ("spectral_subtraction", "CUSTOM:SignalFilterBankSpectralSubtraction", 2),
            ("pcan", "CUSTOM:SignalPCAN", 3),
        )
    ],
    Case(  # int32 arithmetic (micro_speech's feature scaling), constants broadcast, ending in an unquantized int8
        "eltwise_s32",
        "DIV",
        [
            T("x", (2, 3, 4), "int32"),
            T("m", (4,), "int32", data=_i32([666, -3, 7, 2**20])),
            T("a", (), "int32", data=_i32([5]).reshape(())),
            T("d", (3, 1), "int32", data=_i32([128, -7, 3])),
            T("lo", (), "int32", data=_i32([-128]).reshape(())),
            T("hi", (), "int32", data=_i32([127]).reshape(())),
            *(T(f"t{k}", (2, 3, 4), "int32") for k in range(6)),  # 6..11
            T("y", (2, 3, 4), "int8"),  # 12: no quantization, as micro_speech's output
        ],
        [
            Op("MUL", [0, 1], [6], {"activation": "NONE"}),
            Op("ADD", [6, 2], [7], {"activation": "NONE"}),
            Op("DIV", [7, 3], [8], {"fused_activation_function": 0}),
            Op("SUB", [8, 0], [9], {"activation": "NONE"}),
            Op("MINIMUM", [9, 5], [10]),
            Op("MAXIMUM", [10, 4], [11]),
            Op("CAST", [11], [12]),
        ],
        12,
    ),
    Case(  # int32 data movement (micro_speech's energy range cut and zero-padded), through uint32 and back
        "movers_s32",
        "CONCATENATION",
        [
            T("x", (30,), "int32"),
            *(T(n, (1,), "int32", data=_i32([v])) for n, v in (("b", 5), ("e", 26), ("s", 1))),
            T("cut", (21,), "int32"),
            T("z0", (5,), "int32", data=np.zeros(5, np.int32)),
            T("z1", (4,), "int32", data=_i32([1, -1, 2**31 - 1, -(2**31)])),
            T("cat", (30,), "int32"),
            T("u", (30,), "uint32"),
            T("y", (30,), "int32"),
        ],
        [
            Op("STRIDED_SLICE", [0, 1, 2, 3], [4]),
            Op("CONCATENATION", [5, 4, 6], [7], {"axis": 0, "activation": "NONE"}),
            Op("CAST", [7], [8]),
            Op("CAST", [8], [9]),
        ],
        9,
        {},
    ),
    Case(  # the 16x8 forms of the byte movers and LEAKY_RELU / SUB (SEANet's layers), in one int16 chain
        "movers_16",
        "STRIDED_SLICE",
        [
            T("x", (1, 4, 9, 6), "int16", [0.0004], [0]),
            T("pads", (4, 2), "int32", data=_i32([0, 0, 1, 0, 2, 1, 0, 0]).reshape(4, 2)),
            T("p", (1, 5, 12, 6), "int16", [0.0004], [0]),
            *(T(n, (4,), "int32", data=_i32(v)) for n, v in (("b", [0, 1, 11, 0]), ("e", [1, 5, 0, 6]))),
            T("s", (4,), "int32", data=_i32([1, 2, -2, 1])),
            T("ss", (1, 2, 6, 6), "int16", [0.0004], [0]),
            T("lr", (1, 2, 6, 6), "int16", [0.0003], [0]),
            T("c", (1, 1, 1, 6), "int16", [0.0002], [0], data=np.arange(-3, 3, dtype=np.int16) * 9000),
            T("y", (1, 2, 6, 6), "int16", [0.0005], [0]),
        ],
        [
            Op("PAD", [0, 1], [2]),
            Op("STRIDED_SLICE", [2, 3, 4, 5], [6]),
            Op("LEAKY_RELU", [6], [7], {"alpha": 0.3}),
            Op("SUB", [7, 8], [9], {"activation": "RELU_N1_TO_1"}),
        ],
        9,
    ),
    Case(  # int8 -> uint8 at the model output (ST's model zoo gives uint8 scores)
        "quantize_s8_u8",
        "QUANTIZE",
        [T("x", (1, 3, 4, 5), "int8", [0.05], [-3]), T("y", (1, 3, 4, 5), "uint8", [0.04], [120])],
        [Op("QUANTIZE", [0], [1])],
        1,
    ),
    Case(  # TRANSPOSE_CONV 16x8: SAME, stride 2, per-channel filter, int64 bias, RELU
        "transpose_conv_16x8",
        "TRANSPOSE_CONV",
        [
            T("x", (1, 3, 4, 5), "int16", [0.0005], [0]),
            T("output_shape", (4,), "int32", data=_i32([1, 6, 8, 4])),
            T("filter", (4, 3, 3, 5), "int8", [0.01, 0.02, 0.005, 0.015], [0] * 4, data=_i8((4, 3, 3, 5), 43)),
            T("bias", (4,), "int64", [5e-6, 1e-5, 2.5e-6, 7.5e-6], [0] * 4, data=np.array([9000, -4000, 0, 2**33])),
            T("y", (1, 6, 8, 4), "int16", [0.004], [0]),
        ],
        [
            Op(
                "TRANSPOSE_CONV",
                [1, 2, 0, 3],
                [4],
                {"padding": "SAME", "stride_h": 2, "stride_w": 2, "activation": "RELU"},
            )
        ],
        4,
    ),
    Case(  # UNIDIRECTIONAL_SEQUENCE_LSTM 16x8 (int16 activations and hidden state, int64 biases): 3 steps, 4 units
        "unidirectional_sequence_lstm_16x8",
        "UNIDIRECTIONAL_SEQUENCE_LSTM",
        [
            T("x", (1, 3, 5), "int16", [2.0**-12], [0]),
            *(
                T(
                    f"w{k}",
                    (4, 5 - k // 4),
                    "int8",
                    [(0.0005, 0.005)[k // 4] * (1 + k % 4 / 4)],
                    [0],
                    data=_i8((4, 5 - k // 4), 70 + k),
                )
                for k in range(8)
            ),
            *(
                T(
                    f"b{k}",
                    (4,),
                    "int64",
                    [float(np.float32(2.0**-12) * np.float32(0.0005 * (1 + k / 4)))],
                    [0],
                    data=np.array([2_000_000 * k - 3_000_000, 4_000_000, -7, 2**33], np.int64),
                )
                for k in range(4)
            ),
            T("h", (1, 4), "int16", [2.0**-15], [0], variable=True),
            T("c", (1, 4), "int16", [2.0**-11], [0], variable=True),
            *(T(f"mid{k}", (0,), "int16", [2.0**-12], [0]) for k in range(5)),  # unread
            T("y", (1, 3, 4), "int16", [2.0**-15], [0]),
        ],
        [
            Op(
                "UNIDIRECTIONAL_SEQUENCE_LSTM",
                [0, 1, 2, 3, 4, 5, 6, 7, 8, -1, -1, -1, 9, 10, 11, 12, -1, -1, 13, 14, -1, -1, -1, -1],
                [20],
                {"activation": "TANH", "cell_clip": 3.0},
                intermediates=[15, 16, 17, 18, 19],
            )
        ],
        20,
    ),
    # -- the cases of operators added later go above this line --
]


def _model(case: Case) -> bytes:
    if case.custom is not None:
        return custom_model(case.tensors, case.ops, [0], [case.output], case.custom)
    return build_model(case.tensors, case.ops, [0], [case.output])


def _input(shape: tuple[int, ...], seed: int, dtype: str = "int8") -> np.ndarray:
    """Seeded int8 values (every third input at a rail), as the model input's type: uint8 the same bytes, int16 /
    int32 over their whole range."""
    x = _i8(shape, seed)
    if seed % 3 == 2:  # the rails
        x[...] = 127 if seed % 2 else -128
    if dtype == "uint8":
        return x.view(np.uint8)
    if dtype == "float32":  # a model that quantizes its float input itself
        return np.random.default_rng([seed, 32]).uniform(-4, 4, shape).astype(np.float32)
    if dtype in ("int16", "int32"):
        info = np.iinfo(dtype)
        return np.random.default_rng([seed, 16]).integers(int(info.min), int(info.max) + 1, shape).astype(dtype)
    return x


# One suite, every kernel set (as TFLM compiles one <op>_test.cc against every kernel directory): the registry's
# operators have ref kernels only, so the CMSIS-NN build is their ref C linked beside CMSIS-NN's.
KERNEL_SETS = [
    pytest.param("ref"),
    pytest.param(
        "cmsis",
        marks=pytest.mark.skipif(cmsis_nn_dir() is None, reason="CMSIS_NN_DIR is not set to a CMSIS-NN checkout"),
    ),
]


@dataclass(frozen=True)
class Kernels:
    ffi: Any
    lib: Any
    path: Path  # the shared library, which a model's library links against
    name: str  # "ref" or "cmsis"


@pytest.fixture(scope="module", params=KERNEL_SETS)
def kernels(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Kernels:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    name = str(request.param)
    path = build_library(Path(tmp_path_factory.mktemp(f"nn_registry_{name}")) / "libcosim_nn.so", kernels=name)
    return Kernels(*load(path), path, name)


class EmittedRunner:
    """The generated model.c of one model, built for the host against a kernel library, run through
    cosim_model_invoke."""

    def __init__(self, model: Path, out: Path, kernels: Kernels | None = None) -> None:
        self.cm = compile_model(model, load_board("stm32f405"), out, kernels=kernels.name if kernels else "ref")
        lib = build_library(
            out / "libmodel.so",
            [out / "model.c"],
            kernels=kernels.name if kernels else "ref",
            include_dirs=[out],
            kernel_library=kernels.path if kernels else None,
        )
        self.ffi, self.lib = load(lib, True)
        raw = self.ffi.new("uint8_t[]", self.cm.arena_bytes + 16)
        self._keep = raw
        addr = int(self.ffi.cast("uintptr_t", raw))
        self.arena = self.ffi.cast("uint8_t *", raw) + ((16 - addr % 16) % 16)

    def __call__(self, x: np.ndarray, reset: bool = True) -> np.ndarray:
        """One invocation; from the reset state (as a fresh TFLM interpreter) unless `reset` is False."""
        x = np.ascontiguousarray(x)
        out = np.zeros(self.cm.output.shape, NP_DTYPES[self.cm.output.dtype])
        if reset:
            assert self.lib.cosim_model_reset(self.arena) == 0
        assert self.lib.cosim_model_invoke(self.arena, self.ffi.from_buffer(x), self.ffi.from_buffer(out)) == 0
        return out


@needs_tflm
@needs_cc
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_operator_through_the_compiler_is_bit_exact(case: Case, kernels: Kernels, tmp_path: Path) -> None:
    model = tmp_path / f"{case.id}.tflite"
    model.write_bytes(_model(case))
    graph = lower_model(parse_tflite(model.read_bytes(), model))
    assert case.builtin in {layer.op_name for layer in graph.layers}
    emitted = EmittedRunner(model, tmp_path / "out", kernels)
    ffi, lib = kernels.ffi, kernels.lib
    for seed in range(6):
        x = _input(case.tensors[0].shape, seed, case.tensors[0].dtype)
        want = run_tflm(model.read_bytes(), x)[0]
        np.testing.assert_array_equal(emitted(x).reshape(want.shape), want, err_msg=f"model.c, input {seed}")
        np.testing.assert_array_equal(run_numpy(graph, x)[0].reshape(want.shape), want, err_msg=f"numpy, {seed}")
        got = run_graph_c(ffi, lib, graph, x)
        np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"kernels, input {seed}")


def _batch_2(case: Case) -> Case | None:
    """The case with batch 2 in every 4-D activation tensor, or None when some activation tensor is not 4-D."""
    acts = [t for t in case.tensors if t.data is None]
    if case.builtin in ("SLICE", "STRIDED_SLICE"):  # their constant begin / size fix the output's batch
        return None
    if not all(len(t.shape) == 4 and t.shape[0] == 1 for t in acts):
        return None
    tensors = [t if t.data is not None else replace(t, shape=(2, *t.shape[1:])) for t in case.tensors]
    return replace(case, id=f"{case.id}_batch2", tensors=tensors)


BATCH_2 = [b for b in map(_batch_2, CASES) if b is not None]


@needs_tflm
@needs_cc
@pytest.mark.parametrize("case", BATCH_2, ids=[c.id for c in BATCH_2])
def test_registry_operators_take_batch_2(case: Case, kernels: Kernels, tmp_path: Path) -> None:
    """4-D tensors of two images (the registry's kernels walk any batch; the older NHWC kernels refuse it)."""
    model = tmp_path / f"{case.id}.tflite"
    model.write_bytes(_model(case))
    graph = lower_model(parse_tflite(model.read_bytes(), model))
    emitted = EmittedRunner(model, tmp_path / "out", kernels)
    x = _input(case.tensors[0].shape, 1, case.tensors[0].dtype)
    want = run_tflm(model.read_bytes(), x)[0]
    assert want.shape[0] == 2
    np.testing.assert_array_equal(emitted(x).reshape(want.shape), want, err_msg="model.c")
    np.testing.assert_array_equal(run_numpy(graph, x)[0].reshape(want.shape), want, err_msg="numpy")
    np.testing.assert_array_equal(run_graph_c(kernels.ffi, kernels.lib, graph, x).reshape(want.shape), want)


def test_batch_2_covers_the_4d_operators() -> None:
    assert len(BATCH_2) >= 15, [c.id for c in BATCH_2]


def test_every_registry_operator_has_a_case_a_header_and_a_ref_kernel() -> None:
    covered = {c.builtin for c in CASES}
    for op in REGISTRY:
        assert set(op.builtins) <= covered, f"{op.kind}: add a case to tests/ops/test_registry.py"
        header = (NN / "include" / op.header).read_text()
        assert re.search(rf"}}\s*{op.ctype};", header), f"{op.header} does not define {op.ctype}"
        assert re.search(rf"\bvoid {op.cfunc}\(const {op.ctype} \*p,", header), f"{op.header}: no {op.cfunc}"
        assert (NN / "ref" / Path(op.header).with_suffix(".c").name).is_file(), f"{op.kind}: no ref C file"
        assert set(op.builtins) <= set(SUPPORTED_OPS)


def test_a_constant_operand_is_emitted_to_flash_and_passed(tmp_path: Path) -> None:
    case = CASES[0]  # SUB with a constant
    model = tmp_path / "m.tflite"
    model.write_bytes(_model(case))
    compile_model(model, load_board("stm32f405"), tmp_path / "out")
    text = (tmp_path / "out" / "model.c").read_text()
    assert '#include "ops/sub.h"' in text
    assert re.search(r"static const int8_t L0_input_2\[8\]", text)
    assert re.search(
        r"cosim_sub_s8\(&L0, \(const int8_t \*\)\(A \+ \d+\), L0_input_2, \(int8_t \*\)\(A \+ \d+\)\);", text
    )


REFUSALS: list[tuple[str, Callable[[], bytes], str]] = [
    (
        "transpose_perm_at_run_time",
        lambda: build_model(
            [T("x", (1, 2, 3, 4), "int8", [0.1], [0]), T("p", (4,), "int32"), T("y", (1, 3, 2, 4), "int8", [0.1], [0])],
            [Op("TRANSPOSE", [0, 1], [2])],
            [0, 1],
            [2],
        ),
        "perm is not a constant tensor",
    ),
    (
        "reduce_max_requantizes",
        lambda: build_model(
            [
                T("x", (1, 4, 5), "int8", [0.1], [0]),
                T("a", (1,), "int32", data=_i32([1])),
                T("y", (1, 5), "int8", [0.2], [0]),
            ],
            [Op("REDUCE_MAX", [0, 1], [2], {"keep_dims": False})],
            [0],
            [2],
        ),
        "needs them equal",
    ),
    (
        "sub_of_two_constants",
        lambda: build_model(
            [
                T("x", (1, 4), "int8", [0.1], [0]),
                T("a", (4,), "int8", [0.1], [0], data=_i8((4,), 1)),
                T("b", (4,), "int8", [0.1], [0], data=_i8((4,), 2)),
                T("s", (4,), "int8", [0.2], [0]),
                T("y", (1, 4), "int8", [0.3], [0]),
            ],
            [Op("SUB", [1, 2], [3]), Op("SUB", [0, 3], [4])],
            [0],
            [4],
        ),
        "every input is a constant",
    ),
]


@pytest.mark.parametrize(("name", "make", "fragment"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_name_the_file_the_operator_and_the_reason(
    name: str, make: Callable[[], bytes], fragment: str, tmp_path: Path
) -> None:
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(make())
    with pytest.raises(BadInput) as err:
        lower_model(parse_tflite(path.read_bytes(), path))
    msg = str(err.value)
    assert msg.startswith(f"{path}: operator ") and fragment in msg and "\n" not in msg, msg


def _all_ops_model() -> bytes:
    """TRANSPOSE -> RESIZE -> SUB(const) -> PRELU(const alpha) -> HARD_SWISH -> RELU -> SQUARED_DIFFERENCE(const)
    -> REDUCE_MAX over H, W -> RELU6 -> REDUCE_MIN: ten registry kinds in one model, as the emulator runs it."""
    t = [
        T("x", (1, 4, 3, 6), "int8", [0.05], [-5]),
        T("perm", (4,), "int32", data=_i32([0, 2, 1, 3])),
        T("xt", (1, 3, 4, 6), "int8", [0.05], [-5]),
        T("size", (2,), "int32", data=_i32([6, 8])),
        T("xr", (1, 6, 8, 6), "int8", [0.05], [-5]),
        T("mean", (6,), "int8", [0.02], [1], data=_i8((6,), 11)),
        T("xs", (1, 6, 8, 6), "int8", [0.06], [3]),
        T("alpha", (1, 1, 6), "int8", [0.004], [0], data=_i8((1, 1, 6), 12)),
        T("xp", (1, 6, 8, 6), "int8", [0.05], [-20]),
        T("xh", (1, 6, 8, 6), "int8", [0.03], [-30]),
        T("xu", (1, 6, 8, 6), "int8", [0.02], [-128]),
        T("ref", (1, 1, 1, 6), "int8", [0.02], [-100], data=_i8((1, 1, 1, 6), 13)),
        T("xd", (1, 6, 8, 6), "int8", [0.01], [-128]),
        T("axes", (2,), "int32", data=_i32([1, 2])),
        T("xm", (1, 6), "int8", [0.01], [-128]),
        T("x6", (1, 6), "int8", [0.01], [-128]),
        T("ax1", (1,), "int32", data=_i32([1])),
        T("y", (1, 1), "int8", [0.01], [-128]),
    ]
    ops = [
        Op("TRANSPOSE", [0, 1], [2]),
        Op("RESIZE_NEAREST_NEIGHBOR", [2, 3], [4]),
        Op("SUB", [4, 5], [6]),
        Op("PRELU", [6, 7], [8]),
        Op("HARD_SWISH", [8], [9]),
        Op("RELU", [9], [10]),
        Op("SQUARED_DIFFERENCE", [10, 11], [12]),
        Op("REDUCE_MAX", [12, 13], [14], {"keep_dims": False}),
        Op("RELU6", [14], [15]),
        Op("REDUCE_MIN", [15, 16], [17], {"keep_dims": True}),
    ]
    return build_model(t, ops, [0], [17])


def _movement_model() -> bytes:
    """SPACE_TO_DEPTH -> DEPTH_TO_SPACE -> SLICE (int64) -> GATHER (axis 0, a scalar index: 3-D) ->
    BATCH_TO_SPACE_ND (3-D, crops) -> SPACE_TO_BATCH_ND (3-D, no padding) -> ABS (requantizing)."""
    q = ([0.05], [-5])
    t = [
        T("x", (1, 4, 6, 3), "int8", *q),
        T("xd", (1, 2, 3, 12), "int8", *q),
        T("xs", (1, 4, 6, 3), "int8", *q),
        T("begin", (4,), "int64", data=np.array([0, 1, 0, 0], np.int64)),
        T("size", (4,), "int64", data=np.array([1, 2, -1, -1], np.int64)),
        T("xc", (1, 2, 6, 3), "int8", *q),
        T("index", (), "int32", data=np.array(0, np.int32)),
        T("xg", (2, 6, 3), "int8", *q),
        T("block", (1,), "int32", data=_i32([2])),
        T("crops", (1, 2), "int32", data=np.array([[1, 1]], np.int32)),
        T("xb", (1, 10, 3), "int8", *q),
        T("pads", (1, 2), "int32", data=np.zeros((1, 2), np.int32)),
        T("xp", (2, 5, 3), "int8", *q),
        T("y", (2, 5, 3), "int8", [0.03], [-128]),
    ]
    ops = [
        Op("SPACE_TO_DEPTH", [0], [1], {"block_size": 2}),
        Op("DEPTH_TO_SPACE", [1], [2], {"block_size": 2}),
        Op("SLICE", [2, 3, 4], [5]),
        Op("GATHER", [5, 6], [7], {"axis": 0}),
        Op("BATCH_TO_SPACE_ND", [7, 8, 9], [10]),
        Op("SPACE_TO_BATCH_ND", [10, 8, 11], [12]),
        Op("ABS", [12], [13]),
    ]
    return build_model(t, ops, [0], [13])


def _arithmetic_model() -> bytes:
    """RESIZE_BILINEAR -> DIV by a constant -> L2_NORMALIZATION -> LOG_SOFTMAX -> SUM over H, W."""
    t = [
        T("x", (1, 3, 4, 5), "int8", [0.05], [-5]),
        T("size", (2,), "int32", data=_i32([6, 8])),
        T("xr", (1, 6, 8, 5), "int8", [0.05], [-5]),
        T("c", (5,), "int8", [0.02], [-100], data=np.array([-50, 0, 20, 60, 100], np.int8)),
        T("xd", (1, 6, 8, 5), "int8", [0.1], [0]),
        T("xl", (1, 6, 8, 5), "int8", [1 / 128], [0]),
        T("xs", (1, 6, 8, 5), "int8", [16 / 256], [127]),
        T("axes", (2,), "int32", data=_i32([1, 2])),
        T("y", (1, 5), "int8", [1.0], [127]),
    ]
    ops = [
        Op("RESIZE_BILINEAR", [0, 1], [2], {"half_pixel_centers": True}),
        Op("DIV", [2, 3], [4]),
        Op("L2_NORMALIZATION", [4], [5]),
        Op("LOG_SOFTMAX", [5], [6]),
        Op("SUM", [6, 7], [8], {"keep_dims": False}),
    ]
    return build_model(t, ops, [0], [8])


# models chaining several registry operators: (builder, input shape, distinct layer kinds)
CHAINS: dict[str, tuple[Callable[[], bytes], tuple[int, ...], int]] = {
    "elementwise": (_all_ops_model, (1, 4, 3, 6), 10),
    "movement": (_movement_model, (1, 4, 6, 3), 7),
    "arithmetic": (_arithmetic_model, (1, 3, 4, 5), 5),
}


@needs_tflm
@needs_cc
@pytest.mark.parametrize("chain", list(CHAINS))
def test_registry_operators_chained_in_one_model_on_the_host(tmp_path: Path, chain: str) -> None:
    make, shape, n_kinds = CHAINS[chain]
    model = tmp_path / f"{chain}.tflite"
    model.write_bytes(make())
    run = EmittedRunner(model, tmp_path / "out")
    kinds = {layer.kind for layer in run.cm.graph.layers}
    assert len(kinds) == n_kinds and kinds <= {op.kind for op in REGISTRY}
    for seed in range(8):
        x = _input(shape, seed)
        want = run_tflm(model.read_bytes(), x)[0]
        np.testing.assert_array_equal(run(x).reshape(want.shape), want, err_msg=f"input {seed}")


# One chain in `make test`, the others (the same kernels, other operators) in `make test-long`: each is a build.
QEMU_CHAINS = [c if c == "elementwise" else pytest.param(c, marks=pytest.mark.long) for c in CHAINS]


@pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
@pytest.mark.parametrize("kernel_set", ["ref", "cmsis-nn"])
@pytest.mark.parametrize("chain", QEMU_CHAINS)
def test_registry_operators_chained_in_one_model_in_qemu(tmp_path: Path, chain: str, kernel_set: str) -> None:
    from tinyml_cosim.orchestrate.model_check import check_model

    if kernel_set == "cmsis-nn" and cmsis_nn_dir() is None:
        pytest.skip("CMSIS_NN_DIR is not set to a CMSIS-NN checkout")
    model = tmp_path / f"{chain}.tflite"
    model.write_bytes(CHAINS[chain][0]())
    rep = check_model(model, load_board("stm32f405"), kernels=kernel_set, vectors=4)
    assert rep["run_status"] == "exited" and rep["bit_exact"] is True and rep["mismatched_vectors"] == [], rep


# Single cases on the board too: the kernels whose element type the chains above do not reach (int16 movers and
# LEAKY_RELU / SUB of a 16x8 model; a uint8 model output)
QEMU_CASES = ["movers_16", "quantize_s8_u8"]


@pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
@pytest.mark.parametrize("case_id", QEMU_CASES)
def test_registry_cases_of_other_types_in_qemu(tmp_path: Path, case_id: str) -> None:
    from tinyml_cosim.orchestrate.model_check import check_model

    case = next(c for c in CASES if c.id == case_id)
    model = tmp_path / f"{case_id}.tflite"
    model.write_bytes(_model(case))
    rep = check_model(model, load_board("stm32f405"), kernels="ref", vectors=3)
    assert rep["run_status"] == "exited" and rep["bit_exact"] is True and rep["mismatched_vectors"] == [], rep


def test_registry_builtins_are_what_the_compiler_reports_it_compiles() -> None:
    assert set(BY_BUILTIN) <= set(SUPPORTED_OPS)
    assert "RELU_N1_TO_1" not in BY_BUILTIN  # TFLM's op resolver has no kernel for it: refused as such
