"""The cycle model's view of a compiled model in the emulator (`cosim model check --profile`): estimated cycles per
inference beside the exact instructions, and per layer which layer costs what and where its cycles go."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.run.record import RunRecord

if TYPE_CHECKING:  # model_check imports this module: the runner's types only for the checker
    from tinyml_cosim.orchestrate.model_check import RunnerBuild


def cycle_fields(record: RunRecord) -> dict[str, object]:
    """Estimated cycles per inference (the cycle model, beside the exact instructions), or why there are none."""
    cycles = [s.cycles for s in record.spans if s.name == "inference"]
    known = bool(cycles) and all(c is not None for c in cycles)
    return {
        "estimated_cycles_per_inference": cycles if known else None,
        "cycle_model": record.cycles.model if record.cycles is not None else None,
        "cycle_validation": record.cycles.validation if record.cycles is not None else None,
        "cycles_missing": None if known else (record.cycles_missing or "no inference span was costed"),
    }


def layer_profile(
    rb: RunnerBuild, board: Board, x: np.ndarray | list[np.ndarray], engine: str | None
) -> list[dict[str, object]]:
    """One input with every layer in its own span: which layer costs what, in exact instructions and estimated
    cycles, and where the cycles go (loads/stores, ALU/MAC, branches, wait states ...)."""
    from tinyml_cosim.orchestrate.model_check import run_runner  # model_check imports this module

    res = run_runner(rb, board, [x], engine=engine, profile=True)
    if not res.ok:
        raise BadInput(f"the model runner did not complete the profile run: {res.record.diagnosis}")
    spans = [s for s in res.record.spans if s.name == "layer"][: len(rb.model.layers)]
    return [
        {"layer": i, "operator": rb.model.layers[i].op, "op_index": rb.model.layers[i].op_index,
         "instructions": s.instructions, "estimated_cycles": s.cycles, "cycle_parts": s.cycle_parts}
        for i, s in enumerate(spans)
    ]  # fmt: skip
