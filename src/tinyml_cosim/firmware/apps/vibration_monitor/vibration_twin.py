"""Host reference of the vibration monitor's fixed-point features (firmware/apps/vibration_monitor/vib_features.c):
the same integer operations in the same order, bit for bit, so training data, the model card and the tests see
exactly what the MCU computes. `float_features` is the same quantities in float64, for error bounds.

A window is (512, 3) int16: the LIS2DW12's bus words (14-bit code << 2), sample-major, as the firmware reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from cosim_dsp.fft import hann_q15, rfft_power_q15
from cosim_dsp.fixed import log2_q16

LOG2N = 9
WINDOW = 1 << LOG2N
AXES = 3
BINS = WINDOW // 2 + 1
BAND_EDGES: tuple[int, ...] = (4, 8, 12, 16, 20, 24, 28, 32, 36, 48, 64, 96, 128, 160, 192, 224, BINS)
BANDS = len(BAND_EDGES) - 1
PEAK_LO, PEAK_HI = 4, 36
FEATURE_NAMES: tuple[str, ...] = (
    *(f"band_{BAND_EDGES[b] * 3.125:g}_{BAND_EDGES[b + 1] * 3.125:g}hz" for b in range(BANDS)),
    "peak_line",
    "total_ac",
    "kurtosis",
    "crest",
)
FEATURES = len(FEATURE_NAMES)
Q16 = 1 << 16


def _check_window(window: np.ndarray) -> np.ndarray:
    w = np.asarray(window)
    if w.shape != (WINDOW, AXES) or w.dtype != np.int16:
        raise ValueError(f"a window is ({WINDOW}, {AXES}) int16 bus words, got {w.shape} {w.dtype}")
    return w


def ac_frames(window: np.ndarray) -> np.ndarray:
    """(3, 512) int16: each axis minus its floor mean, saturated to int16 (as sat16 in the C)."""
    w = _check_window(window).astype(np.int64)
    mean = w.sum(axis=0) >> LOG2N
    return np.clip(w - mean, -32768, 32767).astype(np.int16).T


def features(window: np.ndarray) -> np.ndarray:
    """The VIB_FEATURES Q16.16 int32 features of one window, bit-exact with vib_features()."""
    frames = ac_frames(window)
    hann = hann_q15(WINDOW)
    total = np.zeros(BINS, dtype=np.uint64)
    for a in range(AXES):
        total += rfft_power_q15(frames[a], hann)
    s = [int(v) for v in total]  # Python ints: sums cannot wrap, and the C's cannot either (see vib_features.c)
    d = frames.astype(np.int64).ravel()
    sq = d * d
    s2 = int(sq.sum())
    e = sq >> 4
    s4 = int((e * e).sum())
    peak_sq = int(sq.max())
    out = [log2_q16(1 + sum(s[BAND_EDGES[b] : BAND_EDGES[b + 1]])) for b in range(BANDS)]
    kp = PEAK_LO + int(np.argmax(total[PEAK_LO:PEAK_HI]))  # first maximum, as the C's strict >
    out.append(log2_q16(s[kp - 1] + s[kp] + s[kp + 1] + 1))
    out.append(log2_q16(1 + sum(s[PEAK_LO:])))
    log_count = log2_q16(WINDOW * AXES)
    log_s2 = log2_q16(s2 + 1)
    out.append(log2_q16(s4 + 1) + (8 << 16) + log_count - 2 * log_s2)
    out.append(log2_q16(peak_sq + 1) + log_count - log_s2)
    return np.array(out, dtype=np.int32)


def features_batch(windows: np.ndarray) -> np.ndarray:
    """(m, VIB_FEATURES) int32 for (m, 512, 3) windows."""
    return np.stack([features(w) for w in windows]) if len(windows) else np.zeros((0, FEATURES), np.int32)


def float_features(window: np.ndarray) -> np.ndarray:
    """The same quantities in float64 (exact mean, float FFT, exact Hann, true log2), in log2 units (not Q16)."""
    w = _check_window(window).astype(np.float64)
    d = w - w.mean(axis=0)
    n = np.arange(WINDOW)
    hann = 0.5 * (1 - np.cos(2 * np.pi * n / WINDOW))
    spec = np.fft.rfft(d * hann[:, None], axis=0) / WINDOW
    total = (np.abs(spec) ** 2).sum(axis=1) * 2.0**30
    out = [np.log2(1 + total[BAND_EDGES[b] : BAND_EDGES[b + 1]].sum()) for b in range(BANDS)]
    kp = PEAK_LO + int(np.argmax(total[PEAK_LO:PEAK_HI]))
    out.append(np.log2(total[kp - 1 : kp + 2].sum() + 1))
    out.append(np.log2(1 + total[PEAK_LO:].sum()))
    x = d.ravel()
    s2, s4 = (x**2).sum(), (x**4).sum()
    count = WINDOW * AXES
    out.append(np.log2((count * s4 + 1) / (s2 + 1) ** 2))
    out.append(np.log2((x**2).max() + 1) + np.log2(count) - np.log2(s2 + 1))
    return np.array(out, dtype=np.float64)


@dataclass(frozen=True)
class Normaliser:
    """Per-feature affine map to the model's int8 input, as vib_quantize:
    q = clamp(zp + ((f - offset) * mult + 2^23) >> 24, -128, 127)."""

    offset: np.ndarray  # int32, Q16 (feature mean)
    mult: np.ndarray  # int32, 2^24 / (Q16 · sigma · input scale)
    zero_point: int

    @classmethod
    def fit(cls, mean: np.ndarray, std: np.ndarray, input_scale: float, zero_point: int) -> Normaliser:
        """From float feature statistics (log2 units) and the model's input quantisation."""
        offset = np.round(np.asarray(mean) * Q16).astype(np.int32)
        mult = np.round(256.0 / (np.asarray(std) * input_scale)).astype(np.int64)
        if mult.max() >= 1 << 31:
            raise ValueError("a feature's spread is too small for the int8 input scale")
        return cls(offset, mult.astype(np.int32), int(zero_point))

    def quantize(self, feats: np.ndarray) -> np.ndarray:
        """int8 model inputs for (…, VIB_FEATURES) int32 features."""
        f = np.asarray(feats, dtype=np.int64)
        v = (((f - self.offset.astype(np.int64)) * self.mult.astype(np.int64) + (1 << 23)) >> 24) + self.zero_point
        return np.clip(v, -128, 127).astype(np.int8)


def anomaly_score(q: np.ndarray, centre: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """vib_anomaly_score over (…, VIB_FEATURES) int8 inputs; centre (classes, F) int8, weight (classes, F) uint16."""
    qq = np.asarray(q, dtype=np.int64)[..., None, :]
    d = ((qq - centre.astype(np.int64)) ** 2 * weight.astype(np.int64)).sum(axis=-1)
    best = d.min(axis=-1) // FEATURES >> 8
    return np.minimum(best, (1 << 31) - 1).astype(np.int32)
