"""Whole-model refusals that come before any operator is looked at, each naming what the model is and what to do.

Order matters: a model compiled for an accelerator, a sparse model, a hybrid (dynamic-range) model or a float model
would otherwise be reported by its first operator the compiler lacks, which says nothing about the real problem.
"""

from __future__ import annotations

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.tflite_reader import RawModel, RawOperator
from tinyml_cosim.nn.tflm_ops import ACCELERATOR_COMPILERS

FLOAT_TYPES = ("float32", "float16", "float64")
# Constant inputs in these types, feeding an operator whose activations are float, make a hybrid model.
HYBRID_WEIGHT_TYPES = ("int8", "int4", "uint8")


def _op_where(raw: RawModel, op: RawOperator) -> str:
    return f"{raw.path}: {op.describe()}"


def check_accelerator(raw: RawModel) -> None:
    for op in raw.operators:
        code = op.name.split(":", 1)[1] if op.name.startswith("CUSTOM:") else None
        if code in ACCELERATOR_COMPILERS:
            raise BadInput(
                f"{_op_where(raw, op)}: the model was compiled by {ACCELERATOR_COMPILERS[code]}: custom operator "
                f"'{code}' is the accelerator's command stream, which no Cortex-M kernel runs; use the .tflite "
                "from before that compiler step"
            )


def check_sparse(raw: RawModel) -> None:
    for op in raw.operators:
        if op.name == "DENSIFY":
            t = raw.tensors[op.inputs[0]] if op.inputs and op.inputs[0] >= 0 else None
            what = f" of {t.describe()}" if t is not None else ""
            raise BadInput(
                f"{_op_where(raw, op)}: sparse model: DENSIFY{what} expands sparse (pruned, compressed) weights; "
                "only dense weights compile (convert without the sparsity optimization)"
            )
    for t in raw.tensors:
        if t.sparse:
            raise BadInput(
                f"{raw.path}: sparse model: {t.describe()} is stored sparse (SparsityParameters); only dense "
                "weights compile (convert without the sparsity optimization)"
            )


def check_integer(raw: RawModel, shape_ops: tuple[str, ...]) -> None:
    """Hybrid first (float activations with int8 weights), then any other float tensor: a float model."""
    n_in, n_out = set(raw.inputs), set(raw.outputs)
    for op in raw.operators:
        if op.name in ("QUANTIZE", "DEQUANTIZE") or op.name in shape_ops:
            continue
        acts = [raw.tensors[i] for i in op.inputs + op.outputs if i >= 0 and not raw.tensors[i].is_const]
        weights = [raw.tensors[i] for i in op.inputs if i >= 0 and raw.tensors[i].is_const]
        float_act = next((t for t in acts if t.dtype in FLOAT_TYPES), None)
        int_weight = next((t for t in weights if t.dtype in HYBRID_WEIGHT_TYPES and t.scales), None)
        if float_act is not None and int_weight is not None:
            raise BadInput(
                f"{_op_where(raw, op)}: hybrid (dynamic-range) quantized model: {float_act.describe()} is "
                f"{float_act.dtype} with {int_weight.dtype} weights {int_weight.describe()}; only full-integer int8 "
                "models compile (convert with a representative dataset and full-integer quantization)"
            )
    for op in raw.operators:
        if op.name in shape_ops:
            continue
        for role, idxs in (("input", op.inputs), ("output", op.outputs)):
            for k, ti in enumerate(idxs):
                if ti < 0:
                    continue
                t = raw.tensors[ti]
                if t.dtype not in FLOAT_TYPES:
                    continue
                boundary = (op.name == "QUANTIZE" and role == "input" and ti in n_in) or (
                    op.name == "DEQUANTIZE" and role == "output" and ti in n_out
                )
                if not boundary:
                    raise BadInput(
                        f"{_op_where(raw, op)}: float model: {role} {k} {t.describe()} is {t.dtype}; only "
                        "int8-quantized models compile (convert with full-integer quantization; float is allowed "
                        "only as the model input of a QUANTIZE or the model output of a DEQUANTIZE)"
                    )


def check_model(raw: RawModel, shape_ops: tuple[str, ...]) -> None:
    check_accelerator(raw)
    check_sparse(raw)
    check_integer(raw, shape_ops)
