"""Confidence intervals for metrics over several seeds: Wilson score intervals for proportions, Student-t
intervals for means, both from scipy's special functions (the normal and Student-t quantiles).

scipy is imported inside the functions, deliberately: this module comes in with the package (tinyml_cosim.verdicts),
which `cosim memory` and every scenario path load. scipy.special (about 0.3 s of start-up), not scipy.stats (about a
second): every sweep worker and every `cosim run` paid that second before its first verdict."""

from __future__ import annotations

import math
from collections.abc import Sequence


def wilson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval of a binomial proportion (95 % by default); None without trials.

    Unlike the normal approximation it stays inside [0, 1] and is sensible at 0/n and n/n."""
    if trials <= 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError(f"successes {successes} not within 0..{trials}")
    from scipy.special import ndtri  # scipy.special, not scipy.stats: see the module docstring

    # scipy.stats.binomtest(...).proportion_ci(method="wilson"), term for term (Newcombe 1998), without the import of
    # scipy.stats that every sweep worker paid before its first point.
    n, p = trials, successes / trials
    z = float(ndtri(0.5 + 0.5 * level))
    denom = 2 * (n + z**2)
    center = (2 * n * p + z**2) / denom
    delta = z / denom * math.sqrt(4 * n * p * (1 - p) + z**2)
    return (0.0 if successes == 0 else center - delta), (1.0 if successes == trials else center + delta)


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float] | None:
    """(mean, low, high): Student-t interval of the mean over independent runs; None for no values.

    One value gives a zero-width interval (nothing is known about the spread; the report says n=1)."""
    xs = [float(v) for v in values]
    if not xs:
        return None
    m = sum(xs) / len(xs)
    if len(xs) == 1:
        return m, m, m
    from scipy.special import stdtrit  # the Student-t quantile, as scipy.stats.t.ppf (see the module docstring)

    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
    half = float(stdtrit(len(xs) - 1, 0.5 + level / 2)) * sd / math.sqrt(len(xs))
    return m, m - half, m + half
