"""Host reference of firmware/dsp/fft.c: the same radix-2 FFT, operation for operation, vectorised per stage.

Integers throughout (numpy int64; the C keeps int32 storage and int64 products — every stored value is checked to fit
in int32, so a divergence could only come from a different operation, never from a silent wrap)."""

from __future__ import annotations

import numpy as np

from cosim_dsp.tables import MAX_LOG2N, hann_q15, sin_q15

MIN_LOG2N = 3
_INT32 = (-(1 << 31), (1 << 31) - 1)

__all__ = ["hann_q15", "rfft_power_q15"]


def _twiddles(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cos and -sin of 2*pi*k/1024 for 0 <= k < 512, as fft.c's twiddle() reads them from the quarter wave."""
    s = sin_q15().astype(np.int64)
    low = k <= 256
    wr = np.where(low, s[np.where(low, 256 - k, 0)], -s[np.where(low, 0, k - 256)])
    wi = np.where(low, -s[np.where(low, k, 0)], -s[np.where(low, 0, 512 - k)])
    return wr, wi


def _bit_reverse(n: int, bits: int) -> np.ndarray:
    i = np.arange(n)
    r = np.zeros(n, dtype=np.int64)
    for _ in range(bits):
        r = (r << 1) | (i & 1)
        i = i >> 1
    return r


def _check_int32(*arrays: np.ndarray) -> None:
    for a in arrays:
        if a.size and (a.min() < _INT32[0] or a.max() > _INT32[1]):
            raise AssertionError("FFT intermediate out of int32: the C would wrap here")


def rfft_power_q15(x: np.ndarray, window: np.ndarray | None = None) -> np.ndarray:
    """power[..., k] = |FFT(x * w)[k] / n|^2 * 2^30 (fixed-point, rounded per stage), k = 0..n/2, as uint64.

    `x` is one frame [n] or a batch [..., n] (each frame transformed on its own, as the C does one at a time)."""
    x = np.asarray(x)
    if x.dtype != np.int16:
        raise TypeError(f"x must be int16, not {x.dtype}")
    n = x.shape[-1] if x.ndim else 0
    log2n = n.bit_length() - 1
    if n != 1 << log2n or not MIN_LOG2N <= log2n <= MAX_LOG2N:
        raise ValueError(f"frame length {n} is not a power of two from {1 << MIN_LOG2N} to {1 << MAX_LOG2N}")
    lead = x.shape[:-1]
    v = x.reshape(-1, n).astype(np.int64)
    if window is not None:
        w = np.asarray(window)
        if w.dtype != np.int16 or w.shape != (n,):
            raise ValueError("window must be int16 and as long as the frame")
        v = v * w.astype(np.int64)
    else:
        v = v << 15
    batch = v.shape[0]
    re = np.empty_like(v)
    re[:, _bit_reverse(n, log2n)] = v
    im = np.zeros_like(v)
    for s in range(1, log2n + 1):
        m, half = 1 << s, 1 << (s - 1)
        wr, wi = _twiddles(np.arange(half, dtype=np.int64) * ((1 << MAX_LOG2N) // m))
        r2, i2 = re.reshape(batch, -1, m), im.reshape(batch, -1, m)
        ar, ai, br, bi = r2[..., :half], i2[..., :half], r2[..., half:], i2[..., half:]
        tr = (br * wr - bi * wi + (1 << 14)) >> 15
        ti = (br * wi + bi * wr + (1 << 14)) >> 15
        re = np.concatenate([(ar + tr + 1) >> 1, (ar - tr + 1) >> 1], axis=2).reshape(batch, n)
        im = np.concatenate([(ai + ti + 1) >> 1, (ai - ti + 1) >> 1], axis=2).reshape(batch, n)
        _check_int32(re, im)
    r, i = re[:, : n // 2 + 1], im[:, : n // 2 + 1]
    return ((r * r).astype(np.uint64) + (i * i).astype(np.uint64)).reshape(*lead, n // 2 + 1)
