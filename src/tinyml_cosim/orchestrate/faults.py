"""A board's effective scenario as data: the scenario file with its paths made absolute (it is written elsewhere),
and faults injected on top of a sensor's impairments, validated like a scenario file."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.inputs import add_env_roots
from tinyml_cosim.core.yamlfile import load_yaml

# Impairment fields that the fault keyword sets itself (the rest are the kind's parameters).
_PLACEMENT = ("type", "start_s", "duration_s")


def scenario_data(path: Path) -> dict[str, Any]:
    """The scenario file, validated (every problem with file and line), with every relative path made absolute."""
    from tinyml_cosim.scenario import load_scenario  # lazy: numpy, for boards that load a scenario only

    scn = load_scenario(path)
    data, _ = load_yaml(path)
    base = scn.base_dir
    # The effective scenario is written elsewhere (a workdir) with these absolute paths: they stay allowed sources
    # (core.inputs) as files of the scenario directory this process was told to load, here and in its workers.
    add_env_roots([base])
    for key in ("firmware", "model"):
        if data.get(key):
            data[key] = _absolute(base, str(data[key]))
    for sensor in data.get("sensors") or []:
        if isinstance(sensor.get("part"), str) and _path_like(sensor["part"]):
            sensor["part"] = _absolute(base, sensor["part"])
        for src in sensor.get("signal") or []:
            if isinstance(src, dict) and isinstance(src.get("path"), str):
                src["path"] = _absolute(base, src["path"])
    return data


def _absolute(base: Path, value: str) -> str:
    p = Path(value)
    return value if p.is_absolute() else str((base / p).resolve())


def _path_like(value: str) -> bool:
    return "/" in value or value.endswith((".yaml", ".yml"))


def with_fault(
    data: dict[str, Any],
    source: Path | None,
    name: str,
    fault: tuple[str, str, float, float | None, dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the scenario with the fault appended to its sensor's impairments, the impairment); `fault` is (kind,
    sensor, start_s, duration_s, parameters); `name` names the scenario in messages."""
    kind, sensor, start_s, duration_s, parameters = fault
    ids = [s.get("id") for s in data["sensors"]]
    if sensor not in ids:
        raise BadInput(f"no sensor {sensor!r} in scenario {name}; sensors: {', '.join(ids)}")
    clash = [k for k in parameters if k in _PLACEMENT]
    if clash:
        raise BadInput(f"fault parameter {clash[0]!r} is set by the keyword itself (kind, start, duration)")
    impairment: dict[str, Any] = {"type": kind, "start_s": float(start_s)}
    if duration_s is not None:
        impairment["duration_s"] = float(duration_s)
    impairment.update(parameters)
    trial = copy.deepcopy(data)
    trial["sensors"][ids.index(sensor)].setdefault("impairments", []).append(impairment)
    validate(trial, source)
    return trial, impairment


def validate(data: dict[str, Any], source: Path | None) -> None:
    """BadInput, naming `source`, when `data` is not a valid scenario."""
    from tinyml_cosim.scenario.load import scenario_from_dict  # lazy: numpy (see scenario_data)

    try:
        scenario_from_dict(data, source.parent if source else None)
    except BadInput as exc:
        raise BadInput(str(exc).replace("<dict>", str(source or "scenario"))) from None
