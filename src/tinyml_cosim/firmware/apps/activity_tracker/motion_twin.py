"""Host reference of the activity tracker's fixed-point preprocessing (activity_tracker/motion_features.c).

Bit-exact with the C: the same integer operations, vectorised with numpy int64 (tests/apps/test_motion.py compiles
the C for the host and compares). `features_float` is the float model the fixed-point version approximates, for
error bounds; `fault_flags` reproduces the plausibility checks behind the firmware's sensor_fault state.

A window is an (n, 3) array of accelerometer codes (int16, as the LSM6DSO puts them on the bus). The features are
(n, 2) int8: per sample the dynamic acceleration along gravity (v, signed) and the magnitude across it (h), in units
of 2**out_shift codes (1/32 g at +-4 g with out_shift 8).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np

GHAT_BITS = 14
RAIL_CODE = 32760
STUCK_RUN = 16
RAIL_SAMPLES = 3
PLATEAU_SAMPLES = 12
PLATEAU_RUN = 5

FAULT_STUCK = 1
FAULT_SATURATED = 2
FAULT_MISSING = 4
FAULT_GRAVITY = 8


@dataclass(frozen=True)
class Gravity:
    mean: tuple[int, int, int]
    gmag: int
    ghat: tuple[int, int, int]


@dataclass(frozen=True)
class FaultStats:
    stuck_run: int
    rail_samples: int
    plateau: int


def isqrt(v: np.ndarray) -> np.ndarray:
    """floor(sqrt(v)) of non-negative int64 values, exact (float estimate, then corrected by whole steps)."""
    v = np.asarray(v, dtype=np.int64)
    r = np.floor(np.sqrt(v.astype(np.float64))).astype(np.int64)
    r = np.where(r * r > v, r - 1, r)
    r = np.where((r + 1) * (r + 1) <= v, r + 1, r)
    return r


def div_round(a: np.ndarray | int, b: int) -> np.ndarray:
    """a / b rounded half away from zero (b > 0), as motion_features.c's div_round."""
    a = np.asarray(a, dtype=np.int64)
    return np.where(a >= 0, (a + b // 2) // b, -((-a + b // 2) // b))


def shift_round(a: np.ndarray, s: int) -> np.ndarray:
    """floor((a + 2**(s-1)) / 2**s): rounding half up, as the C's shift_round."""
    return (np.asarray(a, dtype=np.int64) + (1 << (s - 1))) >> s


def gravity(xyz: np.ndarray) -> Gravity:
    x = np.asarray(xyz, dtype=np.int64)
    n = len(x)
    mean = div_round(x.sum(axis=0), n) if n else np.zeros(3, dtype=np.int64)
    gmag = int(isqrt(np.array([int((mean * mean).sum())]))[0])
    up = np.array([0, 0, 1 << GHAT_BITS], dtype=np.int64)  # no gravity at all: any direction, as the C picks z
    ghat = div_round(mean * (1 << GHAT_BITS), gmag) if gmag else up
    xyz_mean = cast("tuple[int, int, int]", tuple(int(m) for m in mean))  # three axes
    return Gravity(xyz_mean, gmag, cast("tuple[int, int, int]", tuple(int(g) for g in ghat)))


def features(xyz: np.ndarray, out_shift: int = 8) -> tuple[np.ndarray, Gravity]:
    """The model input of one window: (n, 2) int8 [v, h] and the gravity estimate (motion_features.c mf_features)."""
    x = np.asarray(xyz, dtype=np.int64)
    g = gravity(x)
    d = x - np.array(g.mean, dtype=np.int64)
    v = shift_round(d @ np.array(g.ghat, dtype=np.int64), GHAT_BITS)
    h2 = (d * d).sum(axis=1) - v * v
    h = isqrt(np.maximum(h2, 0))
    out = np.stack([shift_round(v, out_shift), shift_round(h, out_shift)], axis=1)
    return np.clip(out, -128, 127).astype(np.int8), g


def features_float(xyz: np.ndarray, out_shift: int = 8) -> np.ndarray:
    """What the fixed-point features approximate: exact mean, unit gravity direction, no rounding, no clipping."""
    x = np.asarray(xyz, dtype=np.float64)
    mean = x.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    ghat = mean / norm if norm > 0 else np.array([0.0, 0.0, 1.0])
    d = x - mean
    v = d @ ghat
    h = np.sqrt(np.maximum((d * d).sum(axis=1) - v * v, 0.0))
    return np.stack([v, h], axis=1) / float(1 << out_shift)


def _plateau_at(col: np.ndarray, e: int, tol: int) -> int:
    near = np.abs(col - e) <= tol
    total = run = 0
    for flag in [*near.tolist(), False]:
        if flag:
            run += 1
        else:
            if run >= PLATEAU_RUN:
                total += run
            run = 0
    return total


def fault_stats(xyz: np.ndarray, one_g: int) -> FaultStats:
    x = np.asarray(xyz, dtype=np.int64)
    n = len(x)
    if n == 0:
        return FaultStats(0, 0, 0)
    stuck = 1
    for a in range(3):
        same = np.concatenate([[False], x[1:, a] == x[:-1, a]])
        # longest stretch of repeats, plus the sample they repeat
        best = run = 0
        for s in same.tolist():
            run = run + 1 if s else 0
            best = max(best, run)
        stuck = max(stuck, best + 1)
    rails = int((np.abs(x) >= RAIL_CODE).any(axis=1).sum())
    tol, moving = one_g >> 6, one_g >> 1
    plateau = 0
    for a in range(3):
        col = x[:, a]
        hi, lo = int(col.max()), int(col.min())
        if hi - lo >= moving:
            plateau = max(plateau, _plateau_at(col, hi, tol), _plateau_at(col, lo, tol))
    return FaultStats(stuck, rails, plateau)


def fault_flags(stats: FaultStats, g: Gravity, one_g: int) -> int:
    f = 0
    if stats.stuck_run >= STUCK_RUN:
        f |= FAULT_STUCK
    if stats.rail_samples >= RAIL_SAMPLES or stats.plateau >= PLATEAU_SAMPLES:
        f |= FAULT_SATURATED
    if g.gmag < one_g // 2 or g.gmag > one_g + one_g // 2:
        f |= FAULT_GRAVITY
    return f


def sliding_windows(codes: np.ndarray, window: int, hop: int) -> np.ndarray:
    """(k, window, 3) views of the windows that end at samples hop-1+j*hop ... as the firmware's first decision comes
    after `window` samples and then one every `hop`."""
    codes = np.asarray(codes)
    if len(codes) < window:
        return np.zeros((0, window, codes.shape[1]), dtype=codes.dtype)
    starts = np.arange(0, len(codes) - window + 1, hop)
    return np.stack([codes[s : s + window] for s in starts])
