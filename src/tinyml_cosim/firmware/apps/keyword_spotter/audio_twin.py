"""Host reference of the keyword spotter's log-mel features (firmware/apps/keyword_spotter/kws_features.c).

Per frame of FRAME_LEN int16 samples (hop HOP_LEN, 16 kHz):

1. power[k] = cosim_rfft_power_q15(frame, Hann) — |FFT(x·w)[k] / n|² · 2^30, k = 0 … n/2 (firmware/dsp);
2. mel[m]   = Σ_k (power[k] >> POWER_SHIFT) · w_m[k]  — triangular mel filters in Q15, uint64 (the shift keeps the
   sum below 2^64 for any int16 frame: Σ power ≤ 2^60 by Parseval, weights < 2^15);
3. L[m]     = cosim_log2_q16(mel[m]) (0 when mel[m] = 0), Q16.16 log2;
4. q[m]     = clamp(((L[m] − LOG_OFFSET) · LOG_MUL) >> 16 − 128, −128, 127): one int8 step is 1/LOG_MUL of a
   log2 unit (≈ 0.5 dB), the range LOG_OFFSET … LOG_OFFSET + 256/LOG_MUL log2 units (≈ 128 dB).

The int8 q is the model input as it is (the model's input quantization is scale 1, zero point 0, checked by
models/kws/train.py), so training sees exactly what the MCU computes. `clip_features` does the same integer
operations as `frame_features_q` for many frames at once (numpy, batched); tests/apps/test_kws.py checks both against
the C compiled for the host, bit for bit. `float_log_mel` is the float reference (the same mapping without rounding,
clamping or fixed point) for error bounds.

`make generated` regenerates the C table header (kws_mel_tables.h); a test checks it is fresh.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import numpy as np
from cosim_dsp.fft import hann_q15, rfft_power_q15
from cosim_dsp.fixed import INT32_MIN, log2_q16_array

SAMPLE_RATE = 16000
LOG2_FRAME = 9
FRAME_LEN = 1 << LOG2_FRAME  # 32 ms
HOP_LEN = 320  # 20 ms
N_MEL = 16
N_FRAMES = 49  # (49 - 1) * 320 + 512 = 15872 samples: one model window ≈ 1 s
N_BINS = FRAME_LEN // 2 + 1
MEL_FMIN_HZ = 100.0
MEL_FMAX_HZ = 7600.0
POWER_SHIFT = 12
LOG_OFFSET_Q16 = 20 << 16
LOG_MUL = 6

TABLES_H = Path(__file__).resolve().parent / "kws_mel_tables.h"


def _hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


@cache
def mel_weights_float() -> np.ndarray:
    """Triangular mel filters (HTK mel scale, peak 1), [N_MEL, N_BINS]."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(MEL_FMIN_HZ), _hz_to_mel(MEL_FMAX_HZ), N_MEL + 2))
    f = np.arange(N_BINS) * SAMPLE_RATE / FRAME_LEN
    w = np.zeros((N_MEL, N_BINS))
    for m in range(N_MEL):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        w[m] = np.clip(np.minimum((f - lo) / (mid - lo), (hi - f) / (hi - mid)), 0.0, None)
    return w


@cache
def mel_weights_q15() -> np.ndarray:
    """The filters in Q15 (round half to even, at most 32767), int64 [N_MEL, N_BINS]; zero outside each band."""
    return np.minimum(np.rint(mel_weights_float() * 32768.0), 32767).astype(np.int64)


@cache
def mel_bands() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The sparse form the C uses: first bin, bin count and offset into the flat weight list, per band; the list."""
    w = mel_weights_q15()
    first: list[int] = []
    count: list[int] = []
    offset: list[int] = []
    flat: list[int] = []
    for m in range(N_MEL):
        nz = np.flatnonzero(w[m])
        a, b = int(nz[0]), int(nz[-1]) + 1
        first.append(a)
        count.append(b - a)
        offset.append(len(flat))
        flat.extend(int(v) for v in w[m, a:b])
    return np.array(first), np.array(count), np.array(offset), np.array(flat, dtype=np.int64)


def power_spectrum_q15(frames: np.ndarray) -> np.ndarray:
    """cosim_rfft_power_q15(frame, Hann) for a batch of frames [B, FRAME_LEN] int16 → uint64 [B, N_BINS]
    (cosim_dsp.fft.rfft_power_q15, the host twin of firmware/dsp/fft.c, over the batch)."""
    frames = np.asarray(frames)
    if frames.dtype != np.int16 or frames.ndim != 2 or frames.shape[1] != FRAME_LEN:
        raise ValueError(f"frames must be int16 [B, {FRAME_LEN}], got {frames.dtype} {frames.shape}")
    return rfft_power_q15(frames, hann_q15(FRAME_LEN))


def log_mel_q(power: np.ndarray) -> np.ndarray:
    """Steps 2–4 for power spectra [B, N_BINS] uint64 → int8 [B, N_MEL]."""
    p = (np.asarray(power, dtype=np.uint64) >> np.uint64(POWER_SHIFT)).astype(np.uint64)
    first, count, offset, flat = mel_bands()
    mel = np.zeros((p.shape[0], N_MEL), dtype=np.uint64)
    for m in range(N_MEL):
        w = flat[offset[m] : offset[m] + count[m]].astype(np.uint64)
        # uint64 sums wrap like the C would; the bound in the module docstring says they never need to
        mel[:, m] = (p[:, first[m] : first[m] + count[m]] * w).sum(axis=1, dtype=np.uint64)
    log = log2_q16_array(mel).astype(np.int64)
    log = np.where(log == INT32_MIN, 0, log)
    q = (((log - LOG_OFFSET_Q16) * LOG_MUL) >> 16) - 128
    return np.clip(q, -128, 127).astype(np.int8)


def frame_features_q(frames: np.ndarray) -> np.ndarray:
    """int8 log-mel features of frames [B, FRAME_LEN] int16 → [B, N_MEL], exactly as the MCU."""
    return log_mel_q(power_spectrum_q15(frames))


def frame_view(pcm: np.ndarray, n_frames: int | None = None) -> np.ndarray:
    """The frames [n, FRAME_LEN] of a 1-D int16 signal at HOP_LEN (as many as fit, or the first n_frames)."""
    pcm = np.ascontiguousarray(pcm, dtype=np.int16)
    fit = 1 + (pcm.size - FRAME_LEN) // HOP_LEN if pcm.size >= FRAME_LEN else 0
    n = fit if n_frames is None else min(n_frames, fit)
    idx = np.arange(n)[:, None] * HOP_LEN + np.arange(FRAME_LEN)[None, :]
    return pcm[idx]


def clip_features(clips: np.ndarray, batch_frames: int = 4096) -> np.ndarray:
    """Model inputs for one-second clips [N, ≥ 15872] int16 → int8 [N, N_FRAMES, N_MEL]."""
    clips = np.asarray(clips, dtype=np.int16)
    idx = np.arange(N_FRAMES)[:, None] * HOP_LEN + np.arange(FRAME_LEN)[None, :]
    out = np.empty((clips.shape[0], N_FRAMES, N_MEL), dtype=np.int8)
    per = max(1, batch_frames // N_FRAMES)
    for a in range(0, clips.shape[0], per):
        fr = clips[a : a + per][:, idx].reshape(-1, FRAME_LEN)
        out[a : a + per] = frame_features_q(fr).reshape(-1, N_FRAMES, N_MEL)
    return out


def float_log_mel(frames: np.ndarray) -> np.ndarray:
    """Float reference: the same quantity without fixed point, rounding or clamping, in int8 steps (float64)."""
    x = np.asarray(frames, dtype=np.float64) * (hann_q15(FRAME_LEN) / 32768.0)
    power = np.abs(np.fft.rfft(x, axis=-1) / FRAME_LEN) ** 2 * 2.0**30
    mel = (power / 2.0**POWER_SHIFT) @ (mel_weights_float() * 32768.0).T
    log = np.log2(np.maximum(mel, 1.0))
    return (log - LOG_OFFSET_Q16 / 65536.0) * LOG_MUL - 128.0


def render_tables_h() -> str:
    first, count, offset, flat = mel_bands()
    rows = [", ".join(str(int(v)) for v in flat[i : i + 16]) for i in range(0, len(flat), 16)]
    body = ",\n    ".join(rows)

    def arr(values: np.ndarray) -> str:
        return ", ".join(str(int(v)) for v in values)

    return (
        "/* Generated by `make generated`; do not edit (tests/apps/test_kws.py checks it). */\n"
        "#ifndef KWS_MEL_TABLES_H\n#define KWS_MEL_TABLES_H\n#include <stdint.h>\n\n"
        f"#define KWS_SAMPLE_RATE {SAMPLE_RATE}u\n#define KWS_LOG2_FRAME {LOG2_FRAME}u\n"
        f"#define KWS_FRAME_LEN {FRAME_LEN}u\n#define KWS_HOP_LEN {HOP_LEN}u\n#define KWS_N_MEL {N_MEL}u\n"
        f"#define KWS_N_FRAMES {N_FRAMES}u\n#define KWS_N_BINS {N_BINS}u\n#define KWS_POWER_SHIFT {POWER_SHIFT}u\n"
        f"#define KWS_LOG_OFFSET_Q16 {LOG_OFFSET_Q16}\n#define KWS_LOG_MUL {LOG_MUL}\n\n"
        f"static const uint16_t kws_mel_first[{N_MEL}] = {{{arr(first)}}};\n"
        f"static const uint16_t kws_mel_count[{N_MEL}] = {{{arr(count)}}};\n"
        f"static const uint16_t kws_mel_offset[{N_MEL}] = {{{arr(offset)}}};\n"
        f"static const uint16_t kws_mel_weights[{len(flat)}] = {{\n    {body},\n}};\n\n#endif\n"
    )


def main(argv: list[str]) -> int:
    text = render_tables_h()
    if "--write" in argv:
        TABLES_H.parent.mkdir(parents=True, exist_ok=True)
        TABLES_H.write_text(text)
        return 0
    if not TABLES_H.is_file() or TABLES_H.read_text() != text:
        print(f"stale: {TABLES_H} (run make generated)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
