"""The options of TFLM's Signal library operators (CUSTOM:Signal*): a flexbuffers map in the operator's
custom_options, read by name (TFLM's kernels read the map's values by index, in the keys' alphabetical order, which
is the same thing for a map the converter wrote)."""

from __future__ import annotations

from typing import Any

import flatbuffers.flexbuffers as flexbuffers  # type: ignore[import-untyped]

from tinyml_cosim.nn.ops.base import Lowering
from tinyml_cosim.nn.tflite_reader import RawOperator


def signal_options(ctx: Lowering, op: RawOperator, keys: tuple[str, ...]) -> dict[str, int]:
    """The integer options `keys` (booleans as 0 / 1), refused when absent or not integers."""
    if not op.custom_options:
        raise ctx.fail(op, f"no custom options: expected a flexbuffers map with {', '.join(keys)}")
    try:
        root: Any = flexbuffers.Loads(op.custom_options)
    except Exception as exc:  # the decoder raises whatever its parsing hits on corrupt bytes
        raise ctx.fail(op, f"custom options are not a flexbuffers map ({type(exc).__name__})") from None
    if not isinstance(root, dict):
        raise ctx.fail(op, f"custom options are a {type(root).__name__}, expected a flexbuffers map")
    found: dict[str, int] = {}
    for key in keys:
        value = root.get(key)
        if isinstance(value, bool | int):
            found[key] = int(value)
        else:
            raise ctx.fail(op, f"custom option '{key}' is {value!r}, expected an integer")
    return found


def int_range(ctx: Lowering, op: RawOperator, name: str, value: int, low: int, high: int) -> int:
    """`value` when low <= value <= high, else a refusal naming the option."""
    if not low <= value <= high:
        raise ctx.fail(op, f"{name} {value}: supported are {low}..{high}")
    return value
