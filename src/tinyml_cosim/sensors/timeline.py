"""Placement on the timeline, shared by signal sources and impairments, and piecewise-linear profiles."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Placed(Item):
    """Active from `start_s` for `duration_s` seconds (to the end of the scenario when omitted)."""

    start_s: float = Field(0.0, ge=0, description="when it starts, seconds from the scenario start")
    duration_s: float | None = Field(None, gt=0, description="how long it lasts; to the end when omitted")

    def end_s(self, total_s: float) -> float:
        return total_s if self.duration_s is None else min(total_s, self.start_s + self.duration_s)

    def window(self, t: np.ndarray, total_s: float) -> np.ndarray:
        return (t >= self.start_s) & (t < self.end_s(total_s))


@dataclass(frozen=True)
class Context:
    """What a source or impairment may know about the sensor it feeds; `rng` is its own seeded generator."""

    rng: np.random.Generator
    channels: tuple[str, ...]
    unit: str
    odr_hz: float
    duration_s: float
    base_dir: Path


def pwl_points(value: list[list[float]]) -> list[list[float]]:
    """Validate a profile [[t, v], ...]: pairs with strictly increasing times."""
    if not value:
        raise ValueError("needs at least one [time_s, value] point")
    for i, point in enumerate(value):
        if len(point) != 2:
            raise ValueError(f"point {i} must be [time_s, value], got {len(point)} numbers")
        if i and point[0] <= value[i - 1][0]:
            raise ValueError(f"times must increase: point {i} at {point[0]:g} s is not after {value[i - 1][0]:g} s")
    return value


Profile = list[list[float]]


def pwl(points: Profile, t: np.ndarray) -> np.ndarray:
    """Piecewise-linear profile, held constant before the first and after the last point."""
    knots = np.asarray(points, dtype=np.float64)
    return np.interp(t, knots[:, 0], knots[:, 1])


def pwl_integral(points: Profile, t: np.ndarray) -> np.ndarray:
    """Exact integral from 0 to t of the piecewise-linear profile: phase of a variable-speed rotation, any t."""
    knots = np.asarray(points, dtype=np.float64)
    # Extend with flat segments so the profile is defined from 0 and beyond the last point.
    tk = knots[:, 0]
    vk = knots[:, 1]
    if tk[0] > 0:
        tk = np.concatenate(([0.0], tk))
        vk = np.concatenate(([vk[0]], vk))
    seg_area = np.diff(tk) * (vk[:-1] + vk[1:]) / 2
    cum = np.concatenate(([0.0], np.cumsum(seg_area)))
    i = np.clip(np.searchsorted(tk, t, side="right") - 1, 0, len(tk) - 1)
    dt = t - tk[i]
    slope = np.zeros_like(vk)
    slope[:-1] = np.diff(vk) / np.diff(tk)
    last = i == len(tk) - 1
    s = np.where(last, 0.0, slope[i])
    return cum[i] + vk[i] * dt + 0.5 * s * dt * dt
