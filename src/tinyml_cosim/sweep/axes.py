"""Scenario fields addressed by path: `sensors[imu].impairments[white_noise].sigma`.

A path is dot-separated keys; a key on a list takes a selector in brackets: an index (`[0]`), or the item whose
`id`, else `type`, else `kind` equals it (`sensors[imu]`, `impairments[white_noise]`, `signal[gesture]`). A
selector that matches two items is refused with their indices, so an axis never changes the wrong item silently.
The last key may be absent (the axis adds the field); the scenario model then validates the point.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

SELECTOR_KEYS = ("id", "type", "kind")
_STEP = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)(?P<sels>(\[[^\[\]]+\])*)$")
_SEL = re.compile(r"\[([^\[\]]+)\]")


class PathError(ValueError):
    """A path that does not parse or does not lead to a field of the scenario: the message says what is there."""


@dataclass(frozen=True)
class Step:
    key: str
    selectors: tuple[str, ...] = ()


def parse_path(path: str) -> list[Step]:
    """`a[b].c` -> [Step('a', ('b',)), Step('c')]; PathError with the offending part."""
    if not path or path.strip() != path:
        raise PathError(f"{path!r} is not a field path such as sensors[imu].impairments[white_noise].sigma")
    steps = []
    for part in path.split("."):
        m = _STEP.match(part)
        if m is None:
            raise PathError(f"{part!r} in {path!r} is not a field name with optional [selector]s")
        steps.append(Step(m["key"], tuple(_SEL.findall(m["sels"]))))
    return steps


def _select(items: list[Any], sel: str, where: str) -> int:
    if re.fullmatch(r"-?\d+", sel):
        i = int(sel)
        if not -len(items) <= i < len(items):
            raise PathError(f"{where}[{sel}]: index out of range ({len(items)} item(s))")
        return i % len(items)
    for key in SELECTOR_KEYS:
        hits = [i for i, it in enumerate(items) if isinstance(it, dict) and it.get(key) == sel]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            shown = ", ".join(f"[{i}]" for i in hits)
            raise PathError(f"{where}[{sel}]: {len(hits)} items have {key} {sel!r} ({shown}); select by index")
    names = [str(it.get(k)) for it in items if isinstance(it, dict) for k in SELECTOR_KEYS if k in it][:12]
    known = ", ".join(dict.fromkeys(names)) or "none"
    raise PathError(f"{where}[{sel}]: no item with id, type or kind {sel!r} (there are: {known}; or an index)")


def _walk(data: Any, steps: list[Step], path: str, create_last: bool) -> tuple[Any, str | int]:
    """(container, key) of the field the path names."""
    node = data
    where = ""
    for n, step in enumerate(steps):
        last_step = n == len(steps) - 1
        where = f"{where}.{step.key}" if where else step.key
        if not isinstance(node, dict):
            raise PathError(f"{where}: {where.rsplit('.', 1)[0]} is not a mapping of fields")
        if not step.selectors:
            if last_step:
                if step.key not in node and not create_last:
                    raise PathError(f"{where}: no such field")
                return node, step.key
            if step.key not in node:
                raise PathError(f"{where}: no such field in the scenario (fields here: {', '.join(node)})")
            node = node[step.key]
            continue
        if step.key not in node:
            raise PathError(f"{where}: no such field in the scenario (fields here: {', '.join(node)})")
        container: Any = node
        key: str | int = step.key
        for sel in step.selectors:
            items = container[key]
            if not isinstance(items, list):
                raise PathError(f"{where}: is not a list, so [{sel}] selects nothing")
            idx = _select(items, sel, where)
            where = f"{where}[{sel}]"
            container, key = items, idx
        if last_step:
            return container, key
        node = container[key]
    raise PathError(f"{path!r}: empty path")  # unreachable: parse_path never returns no steps


def get_value(data: Any, path: str) -> Any:
    container, key = _walk(data, parse_path(path), path, create_last=False)
    return container[key]


def set_value(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `data` with the field at `path` set to `value` (the last key may be new)."""
    out = copy.deepcopy(data)
    container, key = _walk(out, parse_path(path), path, create_last=True)
    container[key] = copy.deepcopy(value)
    return out


def check_path(data: Any, path: str) -> None:
    """PathError unless `path` leads to a field (or a new last key) of `data`."""
    _walk(data, parse_path(path), path, create_last=True)


def short_name(path: str, all_paths: list[str]) -> str:
    """The shortest dotted suffix of `path` that no other path ends with (for column labels and plots)."""
    parts = path.split(".")
    for n in range(1, len(parts) + 1):
        tail = ".".join(parts[-n:])
        if not any(p != path and (p == tail or p.endswith("." + tail)) for p in all_paths):
            return tail
    return path
