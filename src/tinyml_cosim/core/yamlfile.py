"""Load YAML files so that every validation error names the file, the line and the field.

PyYAML's composer keeps node positions; pydantic reports a location path. This module joins the two, so a board or
scenario error reads `platforms/x.yaml:14: memory.ram.size: ...` instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from tinyml_cosim.core.errors import BadInput

Model = TypeVar("Model", bound=BaseModel)


def _line_index(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # a list or mapping key cannot be constructed (unhashable): construction reports it
            key_path = (*path, key_node.value)
            out[key_path] = key_node.start_mark.line + 1
            _line_index(value_node, key_path, out)
            out[key_path] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, (*path, i), out)


def format_loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def load_yaml(path: Path) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Return the parsed document and a map from field path to 1-based line number."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot be read as a UTF-8 text file ({exc.__class__.__name__})") from None
    # One parse: compose the node graph (which keeps positions), index the lines, then construct the data from
    # the same nodes -- what yaml.safe_load does internally, minus a second pass over the text. The index is taken
    # before construction because constructing a `<<` merge key rewrites the mapping node in place.
    loader = yaml.SafeLoader(text)
    lines: dict[tuple[Any, ...], int] = {}
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines
        _line_index(node, (), lines)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise BadInput(f"{where}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    return data, lines


def validation_messages(path: Path, exc: ValidationError, lines: dict[tuple[Any, ...], int]) -> list[str]:
    """One `file:line: field: problem` line per pydantic error, with the nearest known line for the field."""
    messages = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        line = None
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in lines:
                line = lines[loc[:cut]]
                break
        where = f"{path}:{line}" if line else str(path)
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling against the documented fields)"
        if (
            "input" in err
            and err["type"] not in ("missing", "extra_forbidden")
            and not isinstance(err["input"], dict | list)
        ):
            msg = f"{err['input']!r}: {msg}"
        messages.append(f"{where}: {format_loc(loc)}: {msg}")
    return messages


def load_model(path: Path, model: type[Model]) -> Model:
    """Parse and validate `path` as `model`; raise BadInput with every problem, each on its own line."""
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise BadInput(f"{path}:1: expected a mapping of fields at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadInput("\n".join(validation_messages(path, exc, lines))) from None


def load_named_model(path: Path, model: type[Model]) -> Model:
    """`load_model` for files named after the `id` they declare (boards, sensor parts): the two must agree."""
    obj = load_model(path, model)
    declared = getattr(obj, "id", None)
    if declared != path.stem:
        raise BadInput(f"{path}:1: id: {declared!r} must match the file name {path.stem!r}")
    return obj
