"""MAXIMUM and MINIMUM int8 with up to 4-D broadcasting, as TFLM's reference kernels: the raw int8 values compared,
whatever the tensors' quantization (TFLM does not requantize; a model converted by TFLite has equal scales here).
Either operand may be a constant (a clamp against a broadcast row), emitted to flash."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, checked, make_layer, operands
from tinyml_cosim.nn.ops.sub import broadcast_layout
from tinyml_cosim.nn.tflite_reader import RawOperator


@dataclass(frozen=True)
class MinMaxParams:
    """cosim_minmax_t: output shape and each input's element strides per output dimension (0 = broadcast)"""

    out_shape: tuple[int, ...]
    in1_strides: tuple[int, ...]
    in2_strides: tuple[int, ...]


def prepare(op: str, shapes: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]) -> MinMaxParams:
    return MinMaxParams(*broadcast_layout(op, shapes))


def reference(op: str, a: npt.NDArray[np.int8], b: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    return (np.maximum(a, b) if op == "MAXIMUM" else np.minimum(a, b)).astype(np.int8)


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    ins = operands(ctx, op, ("input 1", "input 2"))
    (_, a, _), (_, b, _) = ins
    y = ctx.act_tensor(op, op.outputs[0], "output")
    p = checked(ctx, op, prepare, op.name, (a.shape, b.shape, y.shape))
    return make_layer(op, op.name.lower(), p, ins, y)


OPERATORS = tuple(
    Operator(
        name.lower(),
        (name,),
        "cosim_minmax_t",
        f"cosim_{name.lower()}_s8",
        "ops/minmax.h",
        lower,
        lambda layer, xs: reference(layer.op_name, *xs),
    )
    for name in ("MAXIMUM", "MINIMUM")
)
