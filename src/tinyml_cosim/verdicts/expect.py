"""Expectation expressions (`">= 0.95"`, `"<= 500"`, `"== 0"`) and the outcome of checking one."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.results.checks import Check, CheckStatus

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPR = re.compile(r"^\s*(<=|>=|==|!=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(%?)\s*$")


class ExpectationError(BadInput):
    """An `expect:` entry that cannot be understood: `where` is the dotted field (expect.decision.accuracy),
    `detail` what is wrong and what is allowed; str() is `where: detail`."""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}")
        self.where = where
        self.detail = detail

    @property
    def loc(self) -> tuple[str, ...]:
        return tuple(self.where.split("."))


@dataclass(frozen=True)
class Comparison:
    op: str
    value: float
    percent: bool = False  # written with a % sign: `value` is already divided by 100

    def holds(self, actual: float) -> bool:
        if math.isnan(actual):
            return False
        if self.op == "==":
            return math.isclose(actual, self.value, rel_tol=1e-9, abs_tol=1e-12)
        if self.op == "!=":
            return not math.isclose(actual, self.value, rel_tol=1e-9, abs_tol=1e-12)
        return _OPS[self.op](actual, self.value)

    @property
    def text(self) -> str:
        shown = f"{self.value * 100:g}%" if self.percent else f"{self.value:g}"
        return f"{self.op} {shown}"


def parse_comparison(raw: object, where: str) -> Comparison:
    """`">= 0.95"`, `"<= 90%"`, `"== 0"`; a bare number is not accepted (say which way it must go)."""
    if isinstance(raw, bool) or not isinstance(raw, str):
        raise ExpectationError(
            where, f'{raw!r} is not an expectation; write a comparison as a string, e.g. ">= 0.95" or "<= 500"'
        )
    m = _EXPR.match(raw)
    if not m:
        raise ExpectationError(
            where, f'{raw!r} is not an expectation; use one of <=, >=, <, >, ==, != and a number, e.g. ">= 0.95"'
        )
    op, num, pct = m.groups()
    value = float(num) / (100 if pct else 1)
    return Comparison(op, value, bool(pct))


def fmt_value(v: float | None, unit: str = "") -> str:
    if v is None:
        return "not measured"
    if unit == "%":
        return f"{v:.1f} %"
    text = f"{v:.6g}" if not float(v).is_integer() else f"{int(v):d}"
    return f"{text} {unit}".rstrip()


def check(
    id: str,
    category: str,
    comparison: Comparison,
    actual: float | None,
    unit: str = "",
    ci: tuple[float, float] | None = None,
    ci_method: str | None = None,
    why_missing: str = "",
) -> Check:
    """Compare `actual` with `comparison`; a value that could not be measured fails (with the reason)."""
    if actual is None:
        status, msg = CheckStatus.FAIL, f"{id}: not measured ({why_missing or 'no data'}); expected {comparison.text}"
    else:
        ok = comparison.holds(actual)
        status = CheckStatus.PASS if ok else CheckStatus.FAIL
        shown = fmt_value(actual * 100, "%") if comparison.percent else fmt_value(actual, unit)
        msg = f"{id}: actual {shown}, expected {comparison.text}{' ' + unit if unit and not comparison.percent else ''}"
        if ci is not None:
            msg += f" (95 % CI {ci[0]:.4g} … {ci[1]:.4g}, {ci_method})"
    return Check(
        id=id,
        category=category,
        expected=comparison.text,
        actual=actual,
        unit=unit,
        status=status,
        message=msg,
        ci95=ci,
        ci_method=ci_method,
    )
