"""The golden: TFLM's own reference kernels, run on the host through the `tflite-micro` Python package.

`tflite-micro` is optional at import time: tests skip (and fall back to committed golden vectors in models/golden/)
when it is missing, so it is never imported at module level.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.tflite_reader import parse_tflite


def tflm_available() -> bool:
    try:  # optional and heavy (the TFLM interpreter): imported only when the golden is asked for
        from tflite_micro import runtime  # noqa: F401
    except Exception:
        return False
    return True


def _runtime() -> Any:
    try:  # optional and heavy, see tflm_available
        from tflite_micro import runtime
    except Exception as e:
        raise BadInput(
            f"the tflite-micro package is not installed or does not load ({e}); pip install tflite-micro"
        ) from None
    return runtime


def _model_bytes(model: Path | bytes) -> bytes:
    return model if isinstance(model, bytes | bytearray) else Path(model).read_bytes()


def run_tflm(model: Path | bytes, inputs: Sequence[np.ndarray] | np.ndarray) -> list[np.ndarray]:
    """Run TFLM's reference kernels on the host; returns the model's outputs.

    Intermediate tensors are not offered: with the pinned tflite-micro, `GetTensor` under kPreserveAllTensors returns
    one-element arrays instead of the tensors, so per-layer checks use `tinyml_cosim.nn.reference.run_numpy(...,
    intermediates=True)` (itself checked against TFLM's outputs) and the generated code's layer callback.
    """
    rt = _runtime()
    data = _model_bytes(model)
    xs = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
    interp = rt.Interpreter.from_bytes(data, arena_size=max(len(data) * 10, 256 * 1024))
    for i, x in enumerate(xs):
        interp.set_input(np.asarray(x), i)
    interp.invoke()
    raw = parse_tflite(data)
    # Probing past the last output makes the runtime print to stderr, so ask the model how many there are.
    return [np.array(interp.get_output(i)) for i in range(len(raw.outputs))]


def run_tflm_sequence(
    model: Path | bytes, inputs: Sequence[Sequence[np.ndarray] | np.ndarray]
) -> list[list[np.ndarray]]:
    """Invocations in a row on one TFLM interpreter (each item: the model's inputs of one invocation); returns each
    invocation's outputs. A stateful model (LSTM, SVDF: variable tensors) carries its state from one to the next,
    as it does on the board; `run_tflm` starts every call from the reset state."""
    rt = _runtime()
    data = _model_bytes(model)
    interp = rt.Interpreter.from_bytes(data, arena_size=max(len(data) * 10, 256 * 1024))
    n_out = len(parse_tflite(data).outputs)
    outs = []
    for item in inputs:
        xs = [item] if isinstance(item, np.ndarray) else list(item)
        for i, x in enumerate(xs):
            interp.set_input(np.asarray(x), i)
        interp.invoke()
        outs.append([np.array(interp.get_output(i)) for i in range(n_out)])
    return outs


@dataclass(frozen=True)
class TflmArena:
    total: int  # RecordingMicroAllocator: whole arena used (head + tail)
    head: int  # non-persistent part: the planned activation tensors and scratch buffers
    tail: int  # persistent part: TFLM's runtime structures


_ARENA_RE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


def tflm_arena(model: Path | bytes) -> TflmArena:
    """Arena sizes from RecordingMicroAllocator. The Python runtime only prints them (to C stderr), so capture fd 2."""
    rt = _runtime()
    data = _model_bytes(model)
    interp = rt.Interpreter.from_bytes(data, arena_size=max(len(data) * 10, 256 * 1024))
    # Allocation happens at construction; a dummy invoke is not needed for the recording.
    with tempfile.TemporaryFile() as f:
        saved = os.dup(2)
        try:
            os.dup2(f.fileno(), 2)
            interp.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        text = f.read().decode(errors="replace")
    found = {k: int(v) for k, v in _ARENA_RE.findall(text)}
    if set(found) != {"total", "head", "tail"}:
        raise BadInput(f"could not read TFLM's arena usage from print_allocations(): {text[:200]!r}")
    return TflmArena(found["total"], found["head"], found["tail"])
