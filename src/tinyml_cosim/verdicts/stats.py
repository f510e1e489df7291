"""Confidence intervals for metrics over several seeds: Wilson score intervals for proportions, Student-t
intervals for means, both from scipy.

scipy is imported inside the functions, deliberately: this module comes in with the package (tinyml_cosim.verdicts),
which `cosim memory` and every scenario path load, and scipy.stats alone costs about a second of start-up; only
intervals over several values need it."""

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
    from scipy.stats import binomtest  # heavy (scipy): see the module docstring

    ci = binomtest(successes, trials).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float] | None:
    """(mean, low, high): Student-t interval of the mean over independent runs; None for no values.

    One value gives a zero-width interval (nothing is known about the spread; the report says n=1)."""
    xs = [float(v) for v in values]
    if not xs:
        return None
    m = sum(xs) / len(xs)
    if len(xs) == 1:
        return m, m, m
    from scipy.stats import t  # heavy (scipy): see the module docstring

    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
    half = float(t.ppf(0.5 + level / 2, len(xs) - 1)) * sd / math.sqrt(len(xs))
    return m, m - half, m + half
