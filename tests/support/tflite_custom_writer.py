"""Models with CUSTOM operators (TFLM's Signal library) for the kernel tests: what tflite_writer.build_model writes,
plus each custom operator's flexbuffers options and the unsigned tensor types (uint32, uint64) the Signal library
uses. The model is written by build_model (unsigned tensors as int32 placeholders), then repacked through the
object API of the schema tflite-micro ships, with the real types and the options."""

from __future__ import annotations

from typing import Any

import flatbuffers
import flatbuffers.flexbuffers as flexbuffers
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
from tflite_writer import Op, T, build_model

UNSIGNED = {"uint32": 15, "uint64": 12}  # TensorType codes the plain writer has no name for


def custom_model(
    tensors: list[T],
    ops: list[Op],
    inputs: list[int],
    outputs: list[int],
    custom_options: dict[int, dict[str, Any]] | None = None,
) -> bytes:
    """build_model's model; `custom_options[i]` (a map) becomes operator i's flexbuffers custom options."""
    real = [t.dtype for t in tensors]
    plain = [T(t.name, t.shape, "int32" if t.dtype in UNSIGNED else t.dtype, t.scales, t.zero_points, t.qdim,
               t.data, t.sparse, t.variable) for t in tensors]  # fmt: skip
    model = schema.ModelT.InitFromPackedBuf(build_model(plain, ops, inputs, outputs), 0)
    sub = model.subgraphs[0]
    for tensor, dtype in zip(sub.tensors, real, strict=True):
        if dtype in UNSIGNED:
            tensor.type = UNSIGNED[dtype]
    for i, opts in (custom_options or {}).items():
        sub.operators[i].customOptions = list(flexbuffers.Dumps(opts))
        sub.operators[i].customOptionsFormat = 0  # FLEXBUFFERS
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def single_op_model(name: str, ins: list[T], outs: list[T], options: dict[str, Any] | None = None) -> bytes:
    """One CUSTOM:<name> operator over tensors `ins` (constants where data is given) giving `outs`; the model's
    inputs are the non-constant ones."""
    tensors = [*ins, *outs]
    op = Op(f"CUSTOM:{name}", list(range(len(ins))), list(range(len(ins), len(tensors))))
    inputs = [i for i, t in enumerate(ins) if t.data is None]
    return custom_model(tensors, [op], inputs, op.outputs, {0: options} if options is not None else None)
