"""CUSTOM:SignalRfft int16 (TFLM's Signal library, signal/micro/kernels/rfft.cc over signal/src/rfft_int16.cc): each
run of `input_length` int16 samples, zero-padded to fft_length, through kissfft v130's 16-bit fixed-point real FFT
(the version and patch TFLM builds: third_party/kissfft): fft_length / 2 + 1 complex int16 bins out, interleaved
(re, im).

The fixed-point arithmetic reproduced here (kissfft's FIXED_POINT 16 macros): a product is int32, rounded back with
(x + 2^14) >> 15 and truncated to int16; every complex add / subtract stores int16 (wrapping); each butterfly stage
first divides its inputs by its radix (x * (32767 / radix), rounded); the real-FFT split divides by 2 again and
halves with an arithmetic shift. Twiddles are floor(0.5 + 32767 * cos / sin(phase)) in double, computed here at
compile time with the host's libm, as TFLM computes them in its Init (the tables are emitted to flash).

Refused: a type other than int16 (option T), an odd fft_length, one below 4 (kissfft's 1-point transform takes the
generic butterfly) or one whose half has a prime factor above 5 (kissfft
then takes its generic butterfly, whose scratch TFLM's patch allocates as NULL), an input frame longer than
fft_length, an output whose last dimension is not fft_length + 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, make_layer
from tinyml_cosim.nn.ops.signal_options import int_range, signal_options
from tinyml_cosim.nn.tflite_reader import RawOperator

INT16_TYPE = 7  # TensorType_INT16: the option T of the int16 form
MAX_FACTORS = 32  # kissfft's MAXFACTORS: (radix, remaining length) pairs


@dataclass(frozen=True)
class SignalRfftParams:
    """cosim_signal_rfft_t"""

    fft_length: int
    input_length: int  # samples per frame (the input's last dimension)
    frames: int
    output_length: int  # complex bins per output frame (the output's last dimension / 2)
    factors: npt.NDArray[np.int32]  # (radix, remaining) pairs, kissfft's kf_factor of fft_length / 2
    twiddles: npt.NDArray[np.int16]  # fft_length / 2 complex (re, im)
    super_twiddles: npt.NDArray[np.int16]  # fft_length / 4 complex: the real-FFT split's


def factorize(n: int) -> list[tuple[int, int]]:
    """kissfft's kf_factor: radix 4 while it divides, then 2, then odd primes; (radix, remaining length) pairs."""
    p, floor_sqrt, out = 4, math.floor(math.sqrt(n)), []
    while True:
        while n % p:
            p = 2 if p == 4 else 3 if p == 2 else p + 2
            if p > floor_sqrt:
                p = n
        n //= p
        out.append((p, n))
        if n <= 1:
            return out


def _cexp(phase: float) -> tuple[int, int]:
    """kissfft's fixed-point kf_cexp: floor(0.5 + 32767 * cos / sin), converted to int16."""
    return math.floor(0.5 + 32767 * math.cos(phase)), math.floor(0.5 + 32767 * math.sin(phase))


def twiddle_tables(fft_length: int) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.int16]]:
    """The complex FFT's twiddles (phase -2 pi i / n, n = fft_length / 2) and the real split's super twiddles
    (phase -pi ((i + 1) / n + 1/2)), evaluated in the order of kissfft's double expressions."""
    n = fft_length // 2
    pi = 3.141592653589793238462643383279502884197169399375105820974944
    tw = [_cexp(-2 * pi * i / n) for i in range(n)]
    st = [_cexp(-3.14159265358979323846264338327 * ((i + 1) / n + 0.5)) for i in range(n // 2)]
    return np.array(tw, np.int16).reshape(-1), np.array(st, np.int16).reshape(-1)


def prepare(fft_length: int, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> SignalRfftParams:
    """Raises ValueError with the refusal's text."""
    if fft_length < 4 or fft_length % 2:
        raise ValueError(f"fft_length {fft_length}: supported are even lengths of 4 or more (kissfft's real FFT)")
    factors = factorize(fft_length // 2)
    if any(p > 5 for p, _ in factors):
        raise ValueError(
            f"fft_length {fft_length}: its half has a prime factor above 5 (kissfft's generic butterfly, which "
            "TFLM's build cannot run); supported are lengths 2 * 2^a * 3^b * 5^c"
        )
    if not in_shape or not out_shape or len(in_shape) != len(out_shape) or in_shape[:-1] != out_shape[:-1]:
        raise ValueError(f"input {list(in_shape)}, output {list(out_shape)}: expected the same rank and frames")
    if in_shape[-1] > fft_length or in_shape[-1] < 1:
        raise ValueError(f"input frames of {in_shape[-1]} samples: expected 1..fft_length ({fft_length})")
    if out_shape[-1] != fft_length + 2:
        raise ValueError(f"output frames of {out_shape[-1]} values: expected fft_length + 2 = {fft_length + 2}")
    frames = int(np.prod(in_shape[:-1], dtype=np.int64))
    tw, st = twiddle_tables(fft_length)
    flat = np.zeros(2 * MAX_FACTORS, np.int32)
    flat[: 2 * len(factors)] = np.array(factors, np.int32).reshape(-1)
    return SignalRfftParams(fft_length, in_shape[-1], frames, out_shape[-1] // 2, flat, tw, st)


# -- the numpy reference: kissfft's fixed-point steps on int64 arrays holding int16 values --------------------------


def w16(x: np.ndarray) -> np.ndarray:
    """The int16 a C store keeps (modulo 2^16)."""
    return ((x + 32768) & 0xFFFF) - 32768


def sround(x: np.ndarray) -> np.ndarray:
    return w16((x + (1 << 14)) >> 15)


def cmul(ar: np.ndarray, ai: np.ndarray, br: np.ndarray, bi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return sround(ar * br - ai * bi), sround(ar * bi + ai * br)


def fixdiv(x: np.ndarray, radix: int) -> np.ndarray:
    return sround(x * (32767 // radix))


def _bfly2(r: np.ndarray, i: np.ndarray, tr: np.ndarray, ti: np.ndarray, m: int, fs: int) -> None:
    k = np.arange(m)
    ar, ai, br, bi = (fixdiv(v, 2) for v in (r[:, 0], i[:, 0], r[:, 1], i[:, 1]))
    t_r, t_i = cmul(br, bi, tr[k * fs], ti[k * fs])
    r[:, 1], i[:, 1] = w16(ar - t_r), w16(ai - t_i)
    r[:, 0], i[:, 0] = w16(ar + t_r), w16(ai + t_i)


def _bfly3(r: np.ndarray, i: np.ndarray, tr: np.ndarray, ti: np.ndarray, m: int, fs: int) -> None:
    k, epi3 = np.arange(m), int(ti[fs * m])
    f0r, f0i, f1r, f1i, f2r, f2i = (fixdiv(v, 3) for v in (r[:, 0], i[:, 0], r[:, 1], i[:, 1], r[:, 2], i[:, 2]))
    s1r, s1i = cmul(f1r, f1i, tr[k * fs], ti[k * fs])
    s2r, s2i = cmul(f2r, f2i, tr[2 * k * fs], ti[2 * k * fs])
    s3r, s3i, s0r, s0i = w16(s1r + s2r), w16(s1i + s2i), w16(s1r - s2r), w16(s1i - s2i)
    m1r, m1i = w16(f0r - (s3r >> 1)), w16(f0i - (s3i >> 1))
    s0r, s0i = sround(s0r * epi3), sround(s0i * epi3)
    r[:, 0], i[:, 0] = w16(f0r + s3r), w16(f0i + s3i)
    r[:, 2], i[:, 2] = w16(m1r + s0i), w16(m1i - s0r)
    r[:, 1], i[:, 1] = w16(m1r - s0i), w16(m1i + s0r)


def _bfly4(r: np.ndarray, i: np.ndarray, tr: np.ndarray, ti: np.ndarray, m: int, fs: int) -> None:
    k = np.arange(m)
    f = [(fixdiv(r[:, q], 4), fixdiv(i[:, q], 4)) for q in range(4)]
    s0 = cmul(*f[1], tr[k * fs], ti[k * fs])
    s1 = cmul(*f[2], tr[2 * k * fs], ti[2 * k * fs])
    s2 = cmul(*f[3], tr[3 * k * fs], ti[3 * k * fs])
    s5r, s5i = w16(f[0][0] - s1[0]), w16(f[0][1] - s1[1])
    a0r, a0i = w16(f[0][0] + s1[0]), w16(f[0][1] + s1[1])
    s3r, s3i, s4r, s4i = w16(s0[0] + s2[0]), w16(s0[1] + s2[1]), w16(s0[0] - s2[0]), w16(s0[1] - s2[1])
    r[:, 2], i[:, 2] = w16(a0r - s3r), w16(a0i - s3i)
    r[:, 0], i[:, 0] = w16(a0r + s3r), w16(a0i + s3i)
    r[:, 1], i[:, 1] = w16(s5r + s4i), w16(s5i - s4r)
    r[:, 3], i[:, 3] = w16(s5r - s4i), w16(s5i + s4r)


def _bfly5(r: np.ndarray, i: np.ndarray, tr: np.ndarray, ti: np.ndarray, m: int, fs: int) -> None:
    u = np.arange(m)
    yar, yai, ybr, ybi = int(tr[fs * m]), int(ti[fs * m]), int(tr[2 * fs * m]), int(ti[2 * fs * m])
    f = [(fixdiv(r[:, q], 5), fixdiv(i[:, q], 5)) for q in range(5)]
    s = [f[0], *(cmul(*f[q], tr[q * u * fs], ti[q * u * fs]) for q in range(1, 5))]
    s7 = (w16(s[1][0] + s[4][0]), w16(s[1][1] + s[4][1]))
    s10 = (w16(s[1][0] - s[4][0]), w16(s[1][1] - s[4][1]))
    s8 = (w16(s[2][0] + s[3][0]), w16(s[2][1] + s[3][1]))
    s9 = (w16(s[2][0] - s[3][0]), w16(s[2][1] - s[3][1]))
    r[:, 0], i[:, 0] = w16(f[0][0] + (s7[0] + s8[0])), w16(f[0][1] + (s7[1] + s8[1]))
    s5r = w16(f[0][0] + sround(s7[0] * yar) + sround(s8[0] * ybr))
    s5i = w16(f[0][1] + sround(s7[1] * yar) + sround(s8[1] * ybr))
    s6r = w16(sround(s10[1] * yai) + sround(s9[1] * ybi))
    s6i = w16(-sround(s10[0] * yai) - sround(s9[0] * ybi))
    r[:, 1], i[:, 1], r[:, 4], i[:, 4] = w16(s5r - s6r), w16(s5i - s6i), w16(s5r + s6r), w16(s5i + s6i)
    s11r = w16(f[0][0] + sround(s7[0] * ybr) + sround(s8[0] * yar))
    s11i = w16(f[0][1] + sround(s7[1] * ybr) + sround(s8[1] * yar))
    s12r = w16(-sround(s10[1] * ybi) + sround(s9[1] * yai))
    s12i = w16(sround(s10[0] * ybi) - sround(s9[0] * yai))
    r[:, 2], i[:, 2], r[:, 3], i[:, 3] = w16(s11r + s12r), w16(s11i + s12i), w16(s11r - s12r), w16(s11i - s12i)


BUTTERFLIES = {2: _bfly2, 3: _bfly3, 4: _bfly4, 5: _bfly5}


def complex_fft(
    re: np.ndarray, im: np.ndarray, factors: list[tuple[int, int]], tw: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """kissfft's kf_work: the mixed-radix decimation's leaf order, then each stage's butterflies from the innermost
    out (the sub-transforms of one stage are independent: all of them at once, as [groups, radix, m] views)."""
    src = np.zeros(1, np.int64)  # leaf position -> input index
    stride = 1
    for p, _ in factors:
        src = (src[:, None] + stride * np.arange(p)[None, :]).reshape(-1)
        stride *= p
    r, i = re[src].astype(np.int64), im[src].astype(np.int64)
    tr, ti = tw[0::2].astype(np.int64), tw[1::2].astype(np.int64)
    fstride = int(np.prod([p for p, _ in factors]))
    for p, m in reversed(factors):
        fstride //= p
        BUTTERFLIES[p](r.reshape(-1, p, m), i.reshape(-1, p, m), tr, ti, m, fstride)
    return r, i


def real_fft(p: SignalRfftParams, frame: np.ndarray) -> np.ndarray:
    """kissfft's kiss_fftr of one zero-padded frame: the half-length complex FFT of the samples read as (re, im)
    pairs, then the split into fft_length / 2 + 1 bins; int16 (re, im) pairs."""
    n = p.fft_length // 2
    work = np.zeros(p.fft_length, np.int64)
    work[: p.input_length] = frame
    pairs = [(int(a), int(b)) for a, b in p.factors.reshape(-1, 2) if a]
    r, i = complex_fft(work[0::2], work[1::2], pairs, p.twiddles)
    out = np.zeros(2 * (n + 1), np.int64)
    dr, di = fixdiv(r[0], 2), fixdiv(i[0], 2)
    out[0], out[2 * n] = w16(dr + di), w16(dr - di)
    k = np.arange(1, n // 2 + 1)
    fkr, fki = fixdiv(r[k], 2), fixdiv(i[k], 2)
    fnr, fni = fixdiv(r[n - k], 2), fixdiv(w16(-i[n - k]), 2)
    f1r, f1i, f2r, f2i = w16(fkr + fnr), w16(fki + fni), w16(fkr - fnr), w16(fki - fni)
    st = p.super_twiddles.astype(np.int64)
    twr, twi = cmul(f2r, f2i, st[2 * (k - 1)], st[2 * (k - 1) + 1])
    # k and n - k meet at k = n / 2: kissfft writes bin k first, then bin n - k over it
    out[2 * k], out[2 * k + 1] = w16((f1r + twr) >> 1), w16((f1i + twi) >> 1)
    out[2 * (n - k)], out[2 * (n - k) + 1] = w16((f1r - twr) >> 1), w16((twi - f1i) >> 1)
    return out


def reference(p: SignalRfftParams, x: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    frames = x.astype(np.int64).reshape(p.frames, p.input_length)
    out = np.zeros((p.frames, 2 * p.output_length), np.int64)
    for f in range(p.frames):
        out[f] = real_fft(p, frames[f])
    return out.astype(np.int16).reshape((*x.shape[:-1], 2 * p.output_length))


def scratch_bytes(layer: Layer) -> int:
    """The zero-padded frame (fft_length int16) and kissfft's half-length complex buffer (fft_length int16)."""
    p: SignalRfftParams = layer.prepared
    return 2 * 2 * p.fft_length


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise ctx.fail(op, f"{len(op.inputs)} inputs / {len(op.outputs)} outputs, expected 1 / 1")
    opts = signal_options(ctx, op, ("T", "fft_length"))
    if opts["T"] != INT16_TYPE:
        raise ctx.fail(op, f"option T {opts['T']}: only the int16 form (T = {INT16_TYPE}) is supported")
    length = int_range(ctx, op, "fft_length", opts["fft_length"], 4, 32768)
    x = ctx.act_tensor(op, op.inputs[0], "input", "int16")
    y = ctx.act_tensor(op, op.outputs[0], "output", "int16")
    try:
        p = prepare(length, tuple(x.shape), tuple(y.shape))
    except ValueError as e:
        raise ctx.fail(op, str(e)) from None
    tables: dict[str, np.ndarray] = {"factors": p.factors, "twiddles": p.twiddles, "super_twiddles": p.super_twiddles}
    return make_layer(op, "signal_rfft", p, [(x.id, x, None)], y, arrays=tables)


OPERATORS = (
    Operator(
        "signal_rfft",
        ("CUSTOM:SignalRfft",),
        "cosim_signal_rfft_t",
        "cosim_signal_rfft",
        "ops/signal_rfft.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
        scratch=scratch_bytes,
    ),
)
