"""Host reference of firmware/dsp/log2.c."""

from __future__ import annotations

import numpy as np

INT32_MIN = -(1 << 31)


def log2_q16(x: int) -> int:
    """log2(x) in Q16.16, truncated: 16 squarings of the Q30 mantissa, as cosim_log2_q16. x = 0 gives INT32_MIN."""
    x = int(x)
    if not 0 <= x < 1 << 64:
        raise ValueError(f"{x} is not a uint64")
    if x == 0:
        return INT32_MIN
    e = x.bit_length() - 1
    m = x >> (e - 30) if e >= 30 else x << (30 - e)
    frac = 0
    for _ in range(16):
        m = (m * m) >> 30
        frac <<= 1
        if m >= 2 << 30:
            m >>= 1
            frac |= 1
    return (e << 16) | frac


def log2_q16_array(x: np.ndarray) -> np.ndarray:
    """log2_q16 over a uint64 array (vectorised, the same integer steps), as int32; for feature extraction at scale."""
    x = np.asarray(x)
    if x.dtype != np.uint64:
        raise TypeError(f"x must be uint64, not {x.dtype}")
    e = np.zeros(x.shape, dtype=np.int64)
    for b in range(1, 64):
        e += (x >> np.uint64(b)) != 0
    eu = e.astype(np.uint64)
    hi = e >= 30
    m = np.where(
        hi, x >> np.where(hi, eu - np.uint64(30), np.uint64(0)), x << np.where(hi, np.uint64(0), np.uint64(30) - eu)
    )
    frac = np.zeros(x.shape, dtype=np.int64)
    for _ in range(16):
        m = (m * m) >> np.uint64(30)
        bit = m >= np.uint64(2 << 30)
        m = np.where(bit, m >> np.uint64(1), m)
        frac = (frac << 1) | bit
    out = (e << 16) | frac
    return np.where(x == 0, INT32_MIN, out).astype(np.int32)
