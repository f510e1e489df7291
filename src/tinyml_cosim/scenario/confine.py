"""Path-valued fields of a scenario confined to its source roots (core.inputs.source_roots): the `firmware:` ELF and
`part:` YAML paths, like the CSV/WAV/model sources. A scenario from an untrusted pull request may not make the tool
read, hash or run a file elsewhere on the machine (a symlink out of the directory included: resolved first)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyml_cosim.core.inputs import ALLOW_ROOTS_ENV, confined
from tinyml_cosim.core.yamlfile import short_repr

if TYPE_CHECKING:
    from tinyml_cosim.scenario.model import Loc, Scenario


def is_part_path(part: str) -> bool:
    """A `part:` naming a YAML file (sensors.parts.find_part) rather than a built-in part."""
    return part.endswith((".yaml", ".yml"))


def outside(name: str, what: str, beside: str = "scenario") -> str:
    """The one-line refusal of a path outside the roots, saying how to allow it."""
    flag = "`cosim run --allow-root DIR` (or $" if beside == "scenario" else "$"
    return (
        f"{short_repr(name)}: {what} lies outside the {beside}'s directory and the allowed directories; put it "
        f"beside the {beside} or allow its directory with {flag}{ALLOW_ROOTS_ENV}{')' if beside == 'scenario' else ''}"
    )


def confinement_problems(scn: Scenario) -> list[tuple[Loc, str]]:
    """A problem for each of the scenario's firmware and part paths that resolves outside its source roots."""
    problems: list[tuple[Loc, str]] = []
    if scn.firmware is not None and not confined(scn.base_dir, scn.firmware):
        problems.append((("firmware",), outside(scn.firmware, "the firmware ELF")))
    for i, sensor in enumerate(scn.sensors):
        if is_part_path(sensor.part) and not confined(scn.base_dir, sensor.part):
            problems.append((("sensors", i, "part"), outside(sensor.part, "the part file")))
    return problems
