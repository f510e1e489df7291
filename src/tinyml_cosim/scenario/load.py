"""Load a scenario file and turn every problem into `file:line: field: problem (what is allowed)`."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from tinyml_cosim.core.boards import available_boards
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.inputs import confined
from tinyml_cosim.core.yamlfile import format_loc, load_yaml, short_repr
from tinyml_cosim.sensors.impairments import Impair
from tinyml_cosim.sensors.parts import fmt_num
from tinyml_cosim.sensors.signals import SOURCE_TYPES, CsvReplay, WavClip

from .model import Loc, Scenario, semantic_problems

IMPAIRMENT_TYPES = sorted(a.model_fields["type"].default for a in typing.get_args(typing.get_args(Impair)[0]))


def _strip(tp: Any) -> Any:
    """Unwrap Annotated[...] and Optional[...] down to the interesting type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
            else:
                return tp
        else:
            return tp


def _pick(tp: Any, data: Any) -> Any:
    """For a union of models, the member the data names in its `type` field (or the first model member)."""
    tp = _strip(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(tp) if isinstance(a, type) and issubclass(a, BaseModel)]
        tag = data.get("type") if isinstance(data, dict) else None
        for m in models:
            if "type" in m.model_fields and m.model_fields["type"].default == tag:
                return m
        return models[0] if models and tag is None else tp
    return tp


def _model_at(loc: Loc, data: Any) -> type[BaseModel] | None:
    """The pydantic model class that the document node at `loc` is validated against."""
    tp: Any = Scenario
    node = data
    for part in loc:
        tp = _pick(tp, node)
        if isinstance(part, int):
            if typing.get_origin(tp) is not list:
                return None
            tp = typing.get_args(tp)[0]
            node = node[part] if isinstance(node, list) and part < len(node) else None
        else:
            if not (isinstance(tp, type) and issubclass(tp, BaseModel)) or part not in tp.model_fields:
                return None
            tp = tp.model_fields[part].annotation
            node = node.get(part) if isinstance(node, dict) else None
    tp = _pick(tp, node)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _clean_loc(loc: tuple[Any, ...], data: Any) -> Loc:
    """Drop pydantic's union tags and validator names: keep only keys and indices that exist in the document."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(part, str) and part.startswith("function-"):
            continue
        if isinstance(part, int) and isinstance(node, list):
            out.append(part)
            node = node[part] if part < len(node) else None
        elif isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and node.get("type") == part:
            continue  # discriminated-union tag
        elif isinstance(part, str) and "[" in part:
            continue  # e.g. 'list[float]' or 'literal[...]' members of a smart union
        else:
            out.append(part)
            node = None
    return tuple(out)


def _literal_choices(expected: str) -> str:
    return expected.replace("'", "").replace(" or ", ", ")


def _message(err: ErrorDetails, loc: Loc, data: Any) -> str:
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    value = err.get("input")
    shown = repr(value) if isinstance(value, str) else str(value)
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1], data)
        allowed = ", ".join(sorted(model.model_fields)) if model else "see docs/scenario.schema.json"
        return f"unknown field; allowed fields are {allowed}"
    if kind == "literal_error":
        return f"{shown} is not one of {_literal_choices(str(ctx.get('expected', '')))}"
    if kind == "union_tag_invalid":
        choices = IMPAIRMENT_TYPES if "impairments" in loc else SOURCE_TYPES
        return f"type {ctx.get('tag')!r} is not one of {', '.join(choices)}"
    if kind == "union_tag_not_found":
        choices = IMPAIRMENT_TYPES if "impairments" in loc else SOURCE_TYPES
        return f"needs a type, one of {', '.join(choices)}"
    bounds = {
        "greater_than": ("gt", "greater than"),
        "greater_than_equal": ("ge", "at least"),
        "less_than": ("lt", "less than"),
        "less_than_equal": ("le", "at most"),
    }
    if kind in bounds:
        key, words = bounds[kind]
        bound = ctx.get(key)
        return f"{shown} must be {words} {fmt_num(bound) if isinstance(bound, int | float) else bound}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{shown} is not a whole number"
    if kind in ("float_type", "float_parsing"):
        return f"{shown} is not a number"
    if kind in ("bool_type", "bool_parsing"):
        return f"{shown} is not true or false"
    if kind == "string_type":
        return f"{shown} is not text"
    if kind == "list_type":
        return "must be a list"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be a mapping of fields"
    if kind in ("too_short", "too_long"):
        n = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return f"needs {'at least' if kind == 'too_short' else 'at most'} {n} item(s)"
    if kind == "string_pattern_mismatch":
        return f"{shown} must match {ctx.get('pattern')}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return str(err["msg"])


def _line(loc: Loc, lines: dict[tuple[Any, ...], int]) -> int | None:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def format_problem(path: Path, lines: dict[tuple[Any, ...], int], loc: Loc, message: str) -> str:
    line = _line(loc, lines)
    where = f"{path}:{line}" if line else str(path)
    return f"{where}: {format_loc(loc)}: {message}"


def problems(path: Path) -> list[str]:
    """Every problem in the scenario file at `path`, one `file:line: field: problem` string each."""
    return _checked(path)[1]


def _checked(path: Path) -> tuple[Scenario | None, list[str]]:
    """The scenario at `path` and its problems, from one parse (the scenario only when there are none)."""
    data, lines = load_yaml(path, "scenario file")
    if not isinstance(data, dict):
        return None, [f"{path}:1: (top level): expected a mapping of fields, got {type(data).__name__}"]
    try:
        scn = Scenario.model_validate(data)
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            loc = _clean_loc(err["loc"], data)
            out.append(format_problem(path, lines, loc, _message(err, loc, data)))
        return None, list(dict.fromkeys(out))
    scn._path = path.resolve()
    found = semantic_problems(scn, available_boards())
    if not found:
        found = source_problems(scn)
    return (None if found else scn), [format_problem(path, lines, loc, msg) for loc, msg in found]


def source_problems(scn: Scenario) -> list[tuple[Loc, str]]:
    """The CSV and WAV files the scenario's sources name, read and checked now (confined to the scenario's directory
    and the allowed roots, regular files of bounded size, well-formed), so a bad one is a validation error naming
    its field instead of a failure in the middle of a run."""
    problems: list[tuple[Loc, str]] = []
    if scn.model and not confined(scn.base_dir, scn.model):
        problems.append(
            (("model",), f"{short_repr(scn.model)} lies outside the scenario's directory and the allowed directories")
        )
    for i, sensor in enumerate(scn.sensors):
        for j, src in enumerate(sensor.signal):
            if isinstance(src, CsvReplay | WavClip):
                try:
                    src.load(scn.base_dir)
                except BadInput as exc:
                    problems.append((("sensors", i, "signal", j, "path"), str(exc)))
    return problems


def load_scenario(path: str | Path) -> Scenario:
    """Parse and validate a scenario file; raise BadInput listing every problem, one per line."""
    scn, found = _checked(Path(path))
    if scn is None:
        raise BadInput("\n".join(found))
    return scn


def scenario_from_dict(data: dict[str, Any], base_dir: Path | None = None) -> Scenario:
    """Build a scenario from a mapping (tests, notebooks); file paths inside resolve against `base_dir`."""
    name = Path("<dict>")
    try:
        scn = Scenario.model_validate(data)
    except ValidationError as exc:
        msgs = [format_problem(name, {}, _clean_loc(e["loc"], data), "") for e in exc.errors()]
        msgs = [m + _message(e, _clean_loc(e["loc"], data), data) for m, e in zip(msgs, exc.errors(), strict=True)]
        raise BadInput("\n".join(msgs)) from None
    scn._path = (base_dir or Path.cwd()).resolve() / "scenario.yaml"
    found = semantic_problems(scn, available_boards())
    if found:
        raise BadInput("\n".join(format_problem(name, {}, loc, msg) for loc, msg in found))
    return scn
