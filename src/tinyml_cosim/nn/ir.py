"""What lowering produces and every later stage reads: the activation tensors of the arena and the kernel calls
(layers). Shared by the graph lowering (nn/graph.py), the operator modules (nn/ops/) and the emitter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

ITEMSIZE = {"int8": 1, "uint8": 1, "bool": 1, "int16": 2, "int32": 4, "float32": 4, "uint32": 4, "uint64": 8}
NP_DTYPES: dict[str, type] = {
    "int8": np.int8,
    "uint8": np.uint8,
    "bool": np.bool_,
    "int16": np.int16,
    "int32": np.int32,
    "float32": np.float32,
    "uint32": np.uint32,  # the Signal library (nn/ops/signal_*.py)
    "uint64": np.uint64,
}


@dataclass
class Tensor:
    """An activation tensor that lives in the arena; a `variable` one (LSTM / SVDF state) is kept between
    invocations and set to its zero point by the model's reset."""

    id: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # "int8"; "float32" or "uint8" only at the model boundary; int16 / int32 / bool inside
    scale: float
    zero_point: int
    variable: bool = False

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.elements * ITEMSIZE[self.dtype]


@dataclass
class Layer:
    """One kernel call. `p` holds the scalar fields of the kernel's C descriptor, `consts` its constant arrays."""

    op_index: int
    op_name: str
    kind: str
    inputs: list[int]
    output: int
    p: dict[str, Any] = field(default_factory=dict)
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    macs: int = 0
    params: int = 0
    folded_zero_point: bool = False
    # Operators of the registry (nn/ops/): the kernel's operands in call order, each an arena tensor id or the name
    # of a constant array in `consts` (emitted to flash); their shapes; and the operator's prepared parameters,
    # which its numpy reference reads. Empty for the operators lowered in nn/graph.py.
    args: list[int | str] = field(default_factory=list)
    shapes: list[tuple[int, ...]] = field(default_factory=list)
    prepared: Any = None
    # Images of a 4-D batch an NHWC kernel of nn/graph.py (convolutions, pooling) walks one at a time: the generated
    # code calls it once per image on consecutive slices of its input and output (the descriptor is per image).
    batch: int = 1
