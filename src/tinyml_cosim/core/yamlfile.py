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
from tinyml_cosim.core.inputs import MAX_YAML_BYTES, read_input_text

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


def short_repr(value: Any, limit: int = 40) -> str:
    """repr of a value from the file, cut to `limit` characters: a message names the offending value, it does not
    reproduce the file."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def empty_values(
    data: Any, nullable: frozenset[tuple[Any, ...]] = frozenset(), at: tuple[Any, ...] = ()
) -> list[tuple[Any, ...]]:
    """The field paths in `data` whose key is there with no value (`key:` and nothing after), except `nullable`."""
    if isinstance(data, dict):
        found: list[tuple[Any, ...]] = []
        for key, value in data.items():
            here = (*at, key)
            if value is None and here not in nullable:
                found.append(here)
            else:
                found += empty_values(value, nullable, here)
        return found
    if isinstance(data, list):
        return [loc for i, item in enumerate(data) for loc in empty_values(item, nullable, (*at, i))]
    return []


def format_loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


# Bounds on what a YAML file may make the loader do. No file of the project comes near them (no shipped file uses an
# alias at all); a "billion laughs" document needs a few dozen aliases to expand to 10^9 nodes, refused here from the
# small composed graph in milliseconds, before anything walks the expansion.
MAX_ALIASES = 1000
MAX_DEPTH = 64
MAX_EXPANDED_NODES = 1_000_000


class _LimitExceeded(yaml.YAMLError):
    def __init__(self, mark: yaml.Mark | None, problem: str) -> None:
        super().__init__(problem)
        self.problem_mark = mark
        self.problem = problem


class BoundedSafeLoader(yaml.SafeLoader):
    """SafeLoader that counts alias uses and nesting depth while composing, so neither a bomb nor a document nested
    deep enough to exhaust Python's recursion gets past composition."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    # The scanner looks ahead over a whole run of `[[[[...` (a possible simple key at every flow level), quadratic
    # in its depth: the depth is bounded where the scanner meets it, not only in the composer.
    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise _LimitExceeded(self.get_mark(), f"nested deeper than {MAX_DEPTH} levels")
        super().fetch_flow_collection_start(TokenClass)

    def add_indent(self, column: int) -> bool:
        if len(self.indents) >= MAX_DEPTH:
            raise _LimitExceeded(self.get_mark(), f"nested deeper than {MAX_DEPTH} levels")
        return bool(super().add_indent(column))

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _LimitExceeded(self.peek_event().start_mark, f"more than {MAX_ALIASES} aliases")
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _LimitExceeded(self.peek_event().start_mark, f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_expansion(node: yaml.Node) -> None:
    """Refuse a composed graph whose aliases expand it past MAX_EXPANDED_NODES nodes or MAX_DEPTH levels, or that
    contains itself (`&a [*a]`). Linear in the composed graph: each distinct node is measured once."""
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, expanded depth)
    started: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, finished = stack.pop()
        key = id(current)
        if finished:
            kids = [measured[id(k)] for k in _children(current)]
            size = 1 + sum(k[0] for k in kids)
            depth = 1 + max((k[1] for k in kids), default=0)
            if size > MAX_EXPANDED_NODES:
                raise _LimitExceeded(
                    current.start_mark, f"aliases expand this to more than {MAX_EXPANDED_NODES:,} nodes (an alias bomb)"
                )
            if depth > MAX_DEPTH:
                raise _LimitExceeded(current.start_mark, f"aliases nest this deeper than {MAX_DEPTH} levels")
            measured[key] = (size, depth)
            continue
        if key in measured:
            continue
        if key in started:  # reached again from inside its own expansion
            raise _LimitExceeded(current.start_mark, "an alias refers to a node that contains it (a recursive alias)")
        started.add(key)
        stack.append((current, True))
        stack.extend((k, False) for k in _children(current) if id(k) not in measured)


def load_yaml(path: Path, what: str = "YAML file") -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Return the parsed document and a map from field path to 1-based line number; `what` names the file in
    messages about the file itself (a FIFO, too large, not UTF-8)."""
    text = read_input_text(path, what=what, max_bytes=MAX_YAML_BYTES)
    # One parse: compose the node graph (which keeps positions), index the lines, then construct the data from
    # the same nodes -- what yaml.safe_load does internally, minus a second pass over the text. The index is taken
    # before construction because constructing a `<<` merge key rewrites the mapping node in place.
    loader = BoundedSafeLoader(text)
    lines: dict[tuple[Any, ...], int] = {}
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines
        check_expansion(node)
        _line_index(node, (), lines)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise BadInput(f"{where}: not valid YAML: {problem}") from None
    except RecursionError:  # a guard behind the depth limit: never a traceback
        raise BadInput(f"{path}: not valid YAML: nested too deeply") from None
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
        elif err["type"] == "value_error":
            msg = str(msg).removeprefix("Value error, ")  # the validators' own messages name the value
        if (
            "input" in err
            and err["type"] not in ("missing", "extra_forbidden", "value_error")
            and not isinstance(err["input"], dict | list)
        ):
            msg = f"{short_repr(err['input'])}: {msg}"
        messages.append(f"{where}: {format_loc(loc)}: {msg}")
    return messages


def load_model(path: Path, model: type[Model], what: str = "YAML file") -> Model:
    """Parse and validate `path` as `model`; raise BadInput with every problem, each on its own line."""
    data, lines = load_yaml(path, what)
    if not isinstance(data, dict):
        raise BadInput(f"{path}:1: expected a mapping of fields at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadInput("\n".join(validation_messages(path, exc, lines))) from None


def load_named_model(path: Path, model: type[Model], what: str = "YAML file") -> Model:
    """`load_model` for files named after the `id` they declare (boards, sensor parts): the two must agree."""
    obj = load_model(path, model, what)
    declared = getattr(obj, "id", None)
    if declared != path.stem:
        raise BadInput(f"{path}:1: id: {declared!r} must match the file name {path.stem!r}")
    return obj
