"""What an operator module of the registry (nn/ops/__init__.py) provides, and what lowering gives it.

An operator is one module here plus one C file per kernel set (firmware/nn/ref/<op>.c, and firmware/nn/cmsis/<op>.c
where CMSIS-NN has a kernel: an adapter replaces the ref file of the same name) and its header
(firmware/nn/include/ops/<op>.h). The module's `OPERATORS` entries say which TFLite builtins it compiles, the C
descriptor and function, how to lower one operator of a model into a kernel call (TFLM's Prepare arithmetic:
validation of its options, multipliers, shapes) and the numpy reference of that call. Nothing else in the compiler
names the operator: graph lowering, the emitter, the numpy golden and the host test build all go through this table.

The kernel's C signature is `void <cfunc>(const <ctype> *p, const int8_t *in_0, ..., int8_t *out)`: one pointer per
entry of `Layer.args` (an arena tensor, or a constant array emitted to flash), then the output. The generated call
passes a state tensor (`Lowering.state_tensor`) as `void *` and arena tensors of other types as `const void *` /
`void *`, so the kernel declares each with its real type; with `Operator.scratch` one more `void *scratch` follows
the output. Constant tables of any integer type given as `arrays=` become pointer fields of the descriptor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Protocol

import numpy as np

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.ir import Layer, Tensor
from tinyml_cosim.nn.tflite_reader import RawOperator, RawTensor


class Lowering(Protocol):
    """The graph lowering's view an operator module lowers with (nn/graph.py `_Lowerer`)."""

    def fail(self, op: RawOperator, msg: str) -> BadInput:
        """A one-line refusal naming the model file and the operator."""
        ...

    def t(self, index: int) -> RawTensor:
        """The model's tensor `index`, as the file has it."""
        ...

    def act_tensor(self, op: RawOperator, index: int, role: str, dtype: str = "int8") -> Tensor:
        """The arena tensor `index` (refused when it is a constant, of another type or not per-tensor quantized)."""
        ...

    def state_tensor(self, op: RawOperator, index: int, role: str, dtype: str = "int8") -> Tensor:
        """The variable tensor `index` (an LSTM's or SVDF's state): planned for the whole run, kept between
        invocations, reset to its zero point (refused when the file does not mark it variable)."""
        ...

    def const_values(self, op: RawOperator, index: int) -> np.ndarray | None:
        """The values of tensor `index` when the file holds them (a constant, or folded at compile time), else None."""
        ...


Reference = Callable[[Layer, Sequence[np.ndarray]], "np.ndarray | tuple[np.ndarray, dict[int, np.ndarray]]"]


@dataclass(frozen=True)
class Operator:
    kind: str  # the layer kind (Layer.kind): unique in the registry
    builtins: tuple[str, ...]  # the TFLite builtin operators it compiles
    ctype: str  # the C descriptor (firmware/nn/include/ops/<header>.h)
    cfunc: str  # the C kernel
    header: str  # "ops/<op>.h", included by the generated model.c
    lower: Callable[[Lowering, RawOperator], Layer | list[Layer]]  # a list: several kernel calls (SPLIT)
    # The numpy reference of one call: the layer and its operands (in `args` order, shaped as `Layer.shapes`).
    # A stateful operator returns (output, {position in args: the state tensor's new values}).
    reference: Reference
    # Bytes of working memory the kernel takes as a last `void *scratch` parameter (planned in the arena for the
    # call, 16-byte aligned, undefined on entry); None: the kernel takes none.
    scratch: Callable[[Layer], int] | None = None
    # A variant for one type of the first activation input and/or of the first output ("int16": the 16x8 form of a
    # builtin whose int8 form is lowered elsewhere; QUANTIZE to int16: output_dtype only). Both None: the builtin is
    # this operator's alone, whatever the types.
    input_dtype: str | None = None
    output_dtype: str | None = None

    @property
    def is_variant(self) -> bool:
        return self.input_dtype is not None or self.output_dtype is not None


def struct_fields(prepared: Any, skip: Sequence[str] = ()) -> dict[str, Any]:
    """The fields of an operator's prepared parameters that its C descriptor holds, in order (tuples are arrays)."""
    assert is_dataclass(prepared)
    return {f.name: getattr(prepared, f.name) for f in fields(prepared) if f.name not in skip}


def int8_operand(ctx: Lowering, op: RawOperator, index: int, role: str) -> tuple[int | str, Tensor, Any]:
    """An int8 operand that is either an arena tensor or a constant: (the `Layer.args` entry, its quantization as a
    Tensor, its constant values or None). A constant is emitted to flash as the array `<role>` of the layer."""
    raw = ctx.t(index)
    if not raw.is_const:
        x = ctx.act_tensor(op, index, role)
        return x.id, x, None
    if raw.dtype != "int8" or raw.data is None:
        raise ctx.fail(op, f"{role} {raw.describe()} is a {raw.dtype} constant, expected int8")
    if len(raw.scales) != 1 or len(raw.zero_points) != 1:
        raise ctx.fail(op, f"{role} {raw.describe()} has no per-tensor quantization (scale/zero point)")
    name = role.replace(" ", "_")
    quant = Tensor(-1, raw.name, tuple(raw.shape), "int8", raw.scales[0], raw.zero_points[0])
    return name, quant, raw.data.astype(np.int8)


def int32_values(ctx: Lowering, op: RawOperator, index: int, role: str) -> list[int] | None:
    """A constant int32 operand's values (a permutation, a size, axes), or None when it is computed at run time."""
    if index < 0:
        return None
    values = ctx.const_values(op, index)
    if values is None:
        return None
    if values.dtype.kind not in "iu":
        raise ctx.fail(op, f"{role} {ctx.t(index).describe()} is {values.dtype}, expected int32")
    return [int(v) for v in np.asarray(values).reshape(-1)]


def checked(ctx: Lowering, op: RawOperator, prepare: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`prepare(*args)`, its refusal naming the model file and the operator as every lowering message does."""
    try:
        return prepare(*args, **kwargs)
    except BadInput as exc:
        raise ctx.fail(op, str(exc).split(": ", 1)[-1] if str(exc).startswith(op.name) else str(exc)) from None


Operand = tuple[int | str, Tensor, Any]  # (Layer.args entry, quantization and shape, constant values or None)


def q(t: Tensor) -> tuple[float, int]:
    """(scale, zero point) of a tensor, the form the operators' prepare functions take."""
    return t.scale, t.zero_point


def operands(ctx: Lowering, op: RawOperator, roles: Sequence[str], constant_ok: bool = True) -> list[Operand]:
    """The operator's int8 inputs, each an arena tensor or (with `constant_ok`) a constant; never all constant."""
    found = [
        int8_operand(ctx, op, i, role) if constant_ok else _arena(ctx, op, i, role)
        for i, role in zip(op.inputs, roles, strict=False)
    ]
    if all(v is not None for _, _, v in found):
        raise ctx.fail(op, "every input is a constant: fold it before conversion (nothing to compute at run time)")
    return found


def _arena(ctx: Lowering, op: RawOperator, index: int, role: str) -> Operand:
    x = ctx.act_tensor(op, index, role)
    return x.id, x, None


def make_layer(
    op: RawOperator,
    kind: str,
    prepared: Any,
    ins: Sequence[Operand],
    out: Tensor,
    skip: Sequence[str] = (),
    arrays: dict[str, np.ndarray] | None = None,
) -> Layer:
    """The kernel call of a registry operator: its descriptor from `prepared` (less `skip`), constant operands and
    `arrays` (int32 tables the descriptor points to) emitted to flash, one MAC-equivalent per output element."""
    consts = {str(arg): np.asarray(v) for arg, _, v in ins if v is not None}
    consts.update(arrays or {})
    return Layer(
        op.index,
        op.name,
        kind,
        [arg for arg, _, _ in ins if isinstance(arg, int)],
        out.id,
        struct_fields(prepared, [*skip, *(arrays or {})]),
        consts,
        macs=out.elements,
        params=int(sum(np.asarray(v).size for _, _, v in ins if v is not None)),
        args=[arg for arg, _, _ in ins],
        shapes=[tuple(t.shape) for _, t, _ in ins],
        prepared=prepared,
    )
