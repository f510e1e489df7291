"""Expectations over a sweep, checked point by point:

    accuracy >= 0.9 while sensors[imu].impairments[white_noise].sigma <= 0.05
    timing.deadline_ms holds while board == stm32f405 and clock_hz >= 80 MHz

The left side is a column of the results table (a metric such as `accuracy`, `recall.walk`, `worst_inference_ms`)
compared with a number, or a check id of the scenario report followed by `holds` (its status is pass or warn).
`while` restricts the points the expectation covers, by any column (axes by their full path or any dotted suffix
that names one column only). Every covered point must satisfy it; an error point fails it (it has no values); an
expectation that covers no point fails too, since it checks nothing.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_UNITS = {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9, "ms": 1.0, "%": 0.01, "kib": 1024.0, "b": 1.0}
_CMP = re.compile(r"^\s*(?P<lhs>[^\s<>=!]+)\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<rhs>.+?)\s*$")
_NUM = re.compile(r"^(?P<num>[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*(?P<unit>[A-Za-z%]*)$")


# The columns every done point has (tinyml_cosim.sweep.results.metrics_of); per-class and per-check columns depend
# on the scenario and are known only from the results.
METRIC_COLUMNS = (
    "point", "index", "status", "verdict", "exit_code", "accuracy", "false_alarms_per_hour", "false_alarms",
    "missed_events", "detection_latency_ms", "inferences", "time_basis", "clock_hz", "worst_inference_instructions",
    "worst_inference_cycles", "worst_inference_ms", "deadline_ms", "deadline_checked_ms", "deadline_margin_pct",
    "cpu_load_max", "cpu_load_limit", "flash_used", "flash_limit", "ram_used", "ram_limit", "stack_used",
    "stack_reserved", "stack_static_worst", "wall_s",
)  # fmt: skip
DYNAMIC_PREFIXES = ("recall.", "detection_latency_ms.", "check.")


class ExpectParseError(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    column: str
    op: str
    value: Any  # a number or a word

    def text(self) -> str:
        return f"{self.column} {self.op} {self.value}"


@dataclass(frozen=True)
class Expectation:
    text: str
    lhs: str  # a column, or a check id when holds
    op: str | None  # None: `holds`
    value: float | None
    where: tuple[Condition, ...] = ()


@dataclass
class ExpectResult:
    expectation: Expectation
    covered: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.covered > 0 and not self.failures

    def lines(self, limit: int = 5) -> list[str]:
        status = "PASS" if self.passed else "FAIL"
        out = [f"{status}  sweep: {self.expectation.text} ({self.covered} point(s) covered)"]
        if self.covered == 0:
            out.append("      no point matches the while condition: the expectation checks nothing")
        out += [f"      {f}" for f in self.failures[:limit]]
        if len(self.failures) > limit:
            out.append(f"      … and {len(self.failures) - limit} more failing point(s)")
        return out


def _value(text: str) -> Any:
    m = _NUM.match(text.strip())
    if m is None:
        word = text.strip().strip("'\"")
        if not word or " " in word:
            raise ExpectParseError(f"{text!r} is not a number (optionally with a unit) or a single word")
        return word
    unit = m["unit"].lower()
    if unit and unit not in _UNITS:
        raise ExpectParseError(f"unknown unit {m['unit']!r} in {text!r}; use one of Hz, kHz, MHz, GHz, %, KiB")
    return float(m["num"]) * _UNITS.get(unit, 1.0)


def _comparison(text: str) -> Condition:
    m = _CMP.match(text)
    if m is None:
        raise ExpectParseError(f"{text.strip()!r} is not `name OP value` (OP one of {', '.join(OPS)})")
    return Condition(m["lhs"], m["op"], _value(m["rhs"]))


def parse_expectation(text: str) -> Expectation:
    """`lhs OP number [while cond [and cond]...]` or `check-id holds [while ...]`; ExpectParseError says why not."""
    if not isinstance(text, str) or not text.strip():
        raise ExpectParseError("an expectation is a line such as `accuracy >= 0.9 while <axis> <= 0.05`")
    head, _, tail = text.partition(" while ")
    where = tuple(_comparison(part) for part in re.split(r"\s+and\s+", tail.strip())) if tail.strip() else ()
    head = head.strip()
    if head.endswith(" holds"):
        lhs = head.removesuffix(" holds").strip()
        if not lhs or " " in lhs:
            raise ExpectParseError(f"{head!r}: write `CHECK-ID holds`, e.g. `timing.deadline_ms holds`")
        return Expectation(text.strip(), lhs, None, None, where)
    c = _comparison(head)
    if not isinstance(c.value, float):
        raise ExpectParseError(f"{head!r}: the right side must be a number")
    return Expectation(text.strip(), c.column, c.op, c.value, where)


def _dotted(path: str) -> str:
    """`sensors[imu].impairments[white_noise].sigma` -> `sensors.imu.impairments.white_noise.sigma`."""
    return re.sub(r"\[([^\[\]]+)\]", r".\1", path)


def resolve_column(name: str, columns: list[str]) -> str:
    """The column `name` means: itself, else the one column whose path ends with it, a selector counting as a
    part of the path (`white_noise.sigma` names `sensors[imu].impairments[white_noise].sigma`)."""
    if name in columns:
        return name
    want = _dotted(name)
    hits = [c for c in columns if _dotted(c) == want or _dotted(c).endswith("." + want)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise ExpectParseError(f"{name!r} names {len(hits)} columns ({', '.join(hits)}); write more of the path")
    shown = ", ".join(c for c in columns if not c.startswith("check.")) + ", check.<id>"
    raise ExpectParseError(f"{name!r} is not a column of the results (columns: {shown})")


def check_columns(exp: Expectation, axis_names: list[str]) -> None:
    """ExpectParseError when a name in `exp` can be neither an axis nor a metric the results have."""
    known = [*axis_names, *METRIC_COLUMNS]
    names = [c.column for c in exp.where] + ([exp.lhs] if exp.op is not None else [])
    for name in names:
        if name.startswith(DYNAMIC_PREFIXES):
            continue
        resolve_column(name, known)


def _check_column(check_id: str, row: dict[str, Any]) -> str:
    """`check.<id>`, or the one check column whose id ends with `check_id` (`deadline_ms` for timing.deadline_ms)."""
    exact = f"check.{check_id}"
    if exact in row:
        return exact
    hits = [c for c in row if c.startswith("check.") and c.endswith("." + check_id)]
    return hits[0] if len(hits) == 1 else exact


def _holds(row: dict[str, Any], cond: Condition, column: str) -> bool:
    v = row.get(column)
    if v is None:
        return False
    want = cond.value
    if isinstance(want, float) and not isinstance(v, int | float):
        return False
    if isinstance(want, str):
        v, want = str(v), want
    return bool(OPS[cond.op](v, want))


def evaluate(exp: Expectation, rows: list[dict[str, Any]], label: Callable[[dict[str, Any]], str]) -> ExpectResult:
    """Check `exp` on the results `rows` (one dict per point); `label` names a point in a failure line."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    where = [(c, resolve_column(c.column, columns)) for c in exp.where]
    res = ExpectResult(exp)
    for row in rows:
        if not all(_holds(row, c, col) for c, col in where):
            continue
        res.covered += 1
        if row.get("status") != "done":
            res.failures.append(f"{label(row)}: no result ({row.get('error') or row.get('status')})")
            continue
        if exp.op is None:
            check = _check_column(exp.lhs, row)
            status = row.get(check)
            if status is None:
                res.failures.append(f"{label(row)}: the report has no check {exp.lhs!r}")
            elif status not in ("pass", "warn"):
                res.failures.append(f"{label(row)}: {check.removeprefix('check.')} is {status}")
            continue
        col = resolve_column(exp.lhs, columns)
        actual = row.get(col)
        if not isinstance(actual, int | float) or isinstance(actual, bool):
            res.failures.append(f"{label(row)}: {col} has no value")
        elif not OPS[exp.op](actual, exp.value):
            res.failures.append(f"{label(row)}: {col} = {actual:g}, expected {exp.op} {exp.value:g}")
    return res
