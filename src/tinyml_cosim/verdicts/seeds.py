"""How the seeds of a scenario combine into one metric (docs/verdicts.md): proportions pool their counts, with a
Wilson interval; worst cases take the maximum, rates and counts the mean, with a Student-t interval."""

from __future__ import annotations

from collections.abc import Sequence

from tinyml_cosim.results.model import Metric
from tinyml_cosim.verdicts.expect import Check, Comparison, check
from tinyml_cosim.verdicts.stats import mean_ci, wilson


def proportion(pairs: Sequence[tuple[int, int]]) -> Metric:
    k = sum(p[0] for p in pairs)
    n = sum(p[1] for p in pairs)
    per = [p[0] / p[1] if p[1] else None for p in pairs]
    ci = wilson(k, n)
    return Metric(
        value=k / n if n else None,
        aggregate="pooled counts",
        ci95=ci,
        ci_method="wilson" if ci else None,
        per_seed=per,
        counts=(k, n),
    )


def over_seeds(values: Sequence[float | None], how: str, unit: str = "") -> Metric:
    """`how`: mean or max; a seed without a value makes a max unmeasurable (e.g. a missed event's latency)."""
    known = [v for v in values if v is not None]
    ci = mean_ci(known) if len(known) >= 2 else None
    if how == "max":
        value = max(known) if known and len(known) == len(values) else None
    else:
        value = sum(known) / len(known) if known else None
    return Metric(
        value=value,
        unit=unit,
        aggregate=how,
        ci95=(ci[1], ci[2]) if ci else None,
        ci_method="t" if ci else None,
        per_seed=list(values),
    )


def metric_check(id: str, category: str, comp: Comparison, m: Metric, why: str = "") -> Check:
    return check(id, category, comp, m.value, m.unit, m.ci95, m.ci_method, why)
