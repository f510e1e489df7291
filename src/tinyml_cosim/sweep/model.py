"""The sweep file (`version: 1`): a base scenario and the axes it is swept over.

```yaml
version: 1
base: ../motion/drift.yaml                   # the scenario every point starts from (relative to this file)
axes:                                        # any scenario field, addressed by path (tinyml_cosim.sweep.axes)
  sensors[imu].impairments[white_noise].sigma: [0, 0.02, 0.05]
board: [stm32f405, stm32f205]
clock_hz: [84000000, 120000000]              # run each board at these clocks (at most its platforms/ clock_hz)
seeds: 3
expect:
  - accuracy >= 0.9 while sensors[imu].impairments[white_noise].sigma <= 0.02
```

Its JSON Schema (`schemas/sweep.schema.json`) is generated from these models:
`python -m tinyml_cosim.sweep.model --write`.
"""

from __future__ import annotations

import sys
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tinyml_cosim.core import resources, schema_files

SCHEMA_PATH = resources.SCHEMAS_DIR / "sweep.schema.json"


class Sweep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = Field(1, description="sweep file format version")
    name: str | None = Field(None, description="name of the sweep (default: the file's stem)")
    description: str = ""
    base: str = Field(min_length=1, description="base scenario file, relative to the sweep file")
    combine: Literal["product", "zip"] = Field(
        "product", description="how `axes` combine: every combination, or element by element (equal lengths)"
    )
    axes: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="scenario field path -> values, e.g. sensors[imu].impairments[white_noise].sigma: [0, 0.05]",
    )
    board: list[str] = Field(default_factory=list, description="boards (default: the base scenario's)")
    clock_hz: list[int] = Field(
        default_factory=list,
        description="board clocks in Hz, whole MHz, at most each board's clock_hz (default: the board's); a lower "
        "clock runs the same instructions (emulator counts do not depend on it) in proportionally more time, with "
        "the flash wait states of that clock",
    )
    kernels: list[Literal["ref", "cmsis-nn"]] = Field(
        default_factory=list, description="kernel sets the app is built with (default: the scenario's, else ref)"
    )
    model: list[str] = Field(
        default_factory=list, description="model files the app is built with, relative to the sweep file"
    )
    seeds: int = Field(1, ge=1, le=10_000, description="seeds per configuration: the base seed, +1, ...")
    exclude: list[dict[str, Any]] = Field(
        default_factory=list,
        description="points to leave out: each entry maps axis names (or board, kernels, model, seed) to a value "
        "or a list of values; a point matching every key of one entry is excluded",
    )
    expect: list[str] = Field(
        default_factory=list,
        description="expectations over the sweep, e.g. `accuracy >= 0.9 while <axis> <= 0.05` (docs/sweeps.md)",
    )
    timeout_s: float | None = Field(None, gt=0, description="wall-clock bound per point (default: as cosim run)")
    engine: Literal["qemu", "renode"] | None = Field(None, description="engine (default: as cosim run)")


def schema_text() -> str:
    return schema_files.schema_text(Sweep, SCHEMA_PATH)


if __name__ == "__main__":
    sys.exit(schema_files.schema_main(sys.argv, Sweep, SCHEMA_PATH))
