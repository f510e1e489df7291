"""The inputs the model checks feed a compiled model: seeded tensors, one per model input, and their packing into the
one input buffer of cosim_model_invoke (tensors one after another, in the model's order; outputs the same way)."""

from __future__ import annotations

import numpy as np

from tinyml_cosim.nn.compiler import CompiledModel

ModelInput = np.ndarray | list[np.ndarray]  # one array per model input when it has several


def seeded_input(shape: tuple[int, ...], dtype: str, seed: int) -> np.ndarray:
    """Input `seed`: the same generator as tests/kernels/regen_golden.py, so seeds 0..19 are the committed vectors."""
    return _seeded(shape, dtype, np.random.default_rng([7, seed]))


def seeded_inputs(cm: CompiledModel, seed: int) -> ModelInput:
    """Input `seed` of the model: seeded_input for a one-input model; with several inputs, one array each, input i
    from its own stream of the seed."""
    if len(cm.inputs) == 1:
        return seeded_input(cm.input.shape, cm.input.dtype, seed)
    return [_seeded(q.shape, q.dtype, np.random.default_rng([7, seed, i])) for i, q in enumerate(cm.inputs)]


def _seeded(shape: tuple[int, ...], dtype: str, rng: np.random.Generator) -> np.ndarray:
    if dtype == "float32":
        return rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)
    if dtype == "uint8":
        return rng.integers(0, 256, size=shape).astype(np.uint8)
    if dtype in ("int16", "int32"):  # e.g. 16-bit PCM into an audio front end: the type's whole range
        info = np.iinfo(dtype)
        return rng.integers(int(info.min), int(info.max) + 1, size=shape, dtype=np.int64).astype(dtype)
    return rng.integers(-128, 128, size=shape).astype(np.int8)


def packed(x: ModelInput) -> bytes:
    """The bytes cosim_model_invoke takes (or gives): the tensors one after another, in the model's order."""
    arrays = x if isinstance(x, list | tuple) else [x]
    return b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)
