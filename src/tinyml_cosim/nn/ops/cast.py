"""CAST between the integer types TFLM's reference Cast converts for quantized models: int8, int16 and int32, either
way. TFLM converts the stored values (a C++ static_cast: widening keeps the value, narrowing keeps the low bits),
ignoring any quantization parameters, and so does the kernel (GCC defines narrowing as modulo 2^n, as the C++
compilers that build TFLM do).

Float casts are refused: this compiler's arena holds float32 only at the model boundary (DEQUANTIZE), and TFLM's
uint8 casts fail at Invoke with the pinned tflite-micro.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import NP_DTYPES, Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, make_layer
from tinyml_cosim.nn.tflite_reader import RawOperator

TYPES = ("int8", "int16", "int32")
BITS = {"int8": 8, "int16": 16, "int32": 32}


@dataclass(frozen=True)
class CastParams:
    """cosim_cast_t"""

    size: int
    in_bits: int
    out_bits: int
    out_dtype: str  # for the numpy reference


def prepare(size: int, in_dtype: str, out_dtype: str) -> CastParams:
    for role, dt in (("input", in_dtype), ("output", out_dtype)):
        if dt not in TYPES:
            raise BadInput(f"CAST: {role} type {dt}: supported are {', '.join(TYPES)} (float casts are not compiled)")
    return CastParams(size, BITS[in_dtype], BITS[out_dtype], out_dtype)


def reference(p: CastParams, x: npt.NDArray[np.integer]) -> npt.NDArray[np.integer]:
    return x.astype(np.int64).astype(NP_DTYPES[p.out_dtype])  # numpy's integer astype wraps, as static_cast


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    raw_in, raw_out = ctx.t(op.inputs[0]), ctx.t(op.outputs[0])
    try:
        p = prepare(0, raw_in.dtype, raw_out.dtype)
    except BadInput as e:
        raise ctx.fail(op, str(e)) from None
    x = ctx.act_tensor(op, op.inputs[0], "input", raw_in.dtype)
    y = ctx.act_tensor(op, op.outputs[0], "output", raw_out.dtype)
    if x.elements != y.elements:
        raise ctx.fail(op, f"input has {x.elements} elements, output {y.elements}")
    p = CastParams(x.elements, p.in_bits, p.out_bits, p.out_dtype)
    return make_layer(op, "cast", p, [(x.id, x, None)], y, skip=("out_dtype",))


OPERATORS = (
    Operator(
        "cast",
        ("CAST",),
        "cosim_cast_t",
        "cosim_cast",
        "ops/cast.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
