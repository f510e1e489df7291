"""TFLite Micro's integer arithmetic, written from the arithmetic (no TFLM code), in Python and numpy.

Two users: the compiler (multiplier/shift precomputation, activation ranges) and the numpy golden
(`tinyml_cosim.nn.reference`). Every function works on numpy int64 arrays holding int32 values so that int32 wrap-around
and truncating division can be emulated exactly; `wrap32` is applied wherever C would wrap.

TFLM's default requantization is the double-rounding one (SaturatingRoundingDoublingHighMul followed by
RoundingDivideByPOT), not TFLITE_SINGLE_ROUNDING; that is what is implemented here and in firmware/nn.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

I32 = npt.NDArray[np.int64]  # int32 values carried in int64 so that intermediate products do not overflow
INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def tflite_round(x: float) -> int:
    """std::round: half away from zero (numpy's round is half-to-even, which would differ on ties)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier: a double as a Q0.31 significand and a power-of-two exponent (double-rounding build)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = tflite_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        # Too small to represent: TFLM flushes to zero rather than failing.
        shift, q_fixed = 0, 0
    # TFLM saturates shift > 30 only in TFLITE_SINGLE_ROUNDING builds; the default build keeps it.
    return int(q_fixed), int(shift)


def f32(x: float) -> float:
    """Round a Python float to float32, as a C `float` would hold it."""
    return float(np.float32(x))


def activation_range(act: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8: f / scale in float32, rounded half away from zero."""
    qmin, qmax = -128, 127

    def quantize(f: float) -> int:
        return zero_point + tflite_round(float(np.float32(f) / np.float32(scale)))

    if act == "RELU":
        return max(qmin, quantize(0.0)), qmax
    if act == "RELU6":
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if act == "RELU_N1_TO_1":
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    return qmin, qmax


def calculate_input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31) -> int:
    max_input_rescaled = (
        1.0
        * ((1 << input_integer_bits) - 1)
        * (1 << (total_signed_bits - input_integer_bits))
        / (1 << input_left_shift)
    )
    return math.floor(max_input_rescaled)


# ---------------------------------------------------------------------------------------------------------------------
# Vectorised int32 primitives


def wrap32(x: npt.ArrayLike) -> I32:
    a = np.asarray(x, dtype=np.int64)
    return ((a + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _trunc_div(x: I32, d: int) -> I32:
    """C integer division (truncates toward zero)."""
    q = np.abs(x) // d
    return np.where(x < 0, -q, q)


def srdhm(a: npt.ArrayLike, b: npt.ArrayLike) -> I32:
    """SaturatingRoundingDoublingHighMul for int32."""
    a64 = np.asarray(a, dtype=np.int64)
    b64 = np.asarray(b, dtype=np.int64)
    overflow = (a64 == b64) & (a64 == INT32_MIN)
    ab = a64 * b64
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    high = _trunc_div(ab + nudge, 1 << 31)
    return np.where(overflow, INT32_MAX, high).astype(np.int64)


def rdbpot(x: npt.ArrayLike, exponent: npt.ArrayLike) -> I32:
    """RoundingDivideByPOT: arithmetic shift right with round-half-away-from-zero."""
    x64 = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << e) - 1
    remainder = x64 & mask
    threshold = (mask >> 1) + (x64 < 0)
    return (x64 >> e) + (remainder > threshold)


def mbqm(x: npt.ArrayLike, multiplier: npt.ArrayLike, shift: npt.ArrayLike) -> I32:
    """MultiplyByQuantizedMultiplier (double rounding): x * 2^left wraps as int32 does on the target."""
    s = np.asarray(shift, dtype=np.int64)
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    shifted = wrap32(np.asarray(x, dtype=np.int64) << left)
    return rdbpot(srdhm(shifted, multiplier), right)


def mbqm_greater_than_one(x: npt.ArrayLike, multiplier: int, left_shift: int) -> I32:
    return srdhm(wrap32(np.asarray(x, dtype=np.int64) << left_shift), multiplier)


def sat_shift_left(x: I32, exponent: int) -> I32:
    """SaturatingRoundingMultiplyByPOT for a positive exponent."""
    threshold = (1 << (31 - exponent)) - 1
    r = wrap32(x << exponent)
    r = np.where(x > threshold, INT32_MAX, r)
    return np.where(x < -threshold, INT32_MIN, r)


def rescale(x: I32, src_int_bits: int, dst_int_bits: int) -> I32:
    e = src_int_bits - dst_int_bits
    if e > 0:
        return sat_shift_left(x, e)
    if e < 0:
        return rdbpot(x, -e)
    return x


# ---------------------------------------------------------------------------------------------------------------------
# gemmlowp fixed-point transcendental functions (raw int32 values; F<n> means n integer bits)

_F0_ONE = INT32_MAX


def _rounding_half_sum(a: I32, b: I32) -> I32:
    s = a + b
    sign = np.where(s >= 0, 1, -1)
    return _trunc_div(s + sign, 2)


def exp_on_interval_between_negative_one_quarter_and_0_excl(a: I32) -> I32:
    constant_term = 1895147668
    constant_1_over_3 = 715827883
    x = wrap32(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rdbpot(x4, 2)
    inner = wrap32(srdhm(wrap32(x4_over_4 + x3), constant_1_over_3) + x2)
    poly = rdbpot(inner, 1)
    return wrap32(constant_term + srdhm(constant_term, wrap32(x + poly)))


_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a: I32, int_bits: int) -> I32:
    frac_bits = 31 - int_bits
    one_quarter = 1 << (frac_bits - 2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = wrap32((a & mask) - one_quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, int_bits, 0)
    )
    remainder = wrap32(a_mod_quarter_minus_one_quarter - a)
    for exponent, multiplier in _EXP_BARREL:
        if int_bits > exponent:
            bit = 1 << (frac_bits + exponent)
            result = np.where((remainder & bit) != 0, srdhm(result, multiplier), result)
    if int_bits > 5:
        clamp = -(1 << (36 - int_bits))
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, _F0_ONE, result).astype(np.int64)


def _newton_reciprocal_f2(a: I32) -> tuple[I32, I32]:
    half_denominator = _rounding_half_sum(a, np.int64(_F0_ONE))
    x = wrap32(1515870810 + srdhm(half_denominator, -1010580540))
    f2_one = 1 << 29
    for _ in range(3):
        half_denominator_times_x = srdhm(half_denominator, x)
        one_minus = wrap32(f2_one - half_denominator_times_x)
        x = wrap32(x + rescale(srdhm(x, one_minus), 4, 2))
    return x, half_denominator


def one_over_one_plus_x_for_x_in_0_1(a: I32) -> I32:
    x, _ = _newton_reciprocal_f2(a)
    # ExactMulByPot<-1> turns F2 into F1 with the same raw value; Rescale<0> then shifts left by one.
    return rescale(x, 1, 0)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: I32) -> I32:
    x, _ = _newton_reciprocal_f2(a)
    return rescale(wrap32(x - (1 << 29)), 2, 0)


def logistic_fixed(a: I32, int_bits: int) -> I32:
    positive = a > 0
    abs_input = np.where(positive, a, wrap32(-a))
    result_if_positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(wrap32(-abs_input), int_bits))
    result_if_negative = wrap32(_F0_ONE - result_if_positive)
    out = np.where(positive, result_if_positive, result_if_negative)
    return np.where(a == 0, 1 << 30, out).astype(np.int64)


def tanh_fixed(a: I32, int_bits: int) -> I32:
    negative = a < 0
    n = np.where(negative, a, wrap32(-a))
    # ExactMulByPot<1>: same raw value read with one more integer bit.
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, int_bits + 1))
    out = np.where(negative, wrap32(-t), t)
    return np.where(a == 0, 0, out).astype(np.int64)


def count_leading_zeros32(x: int) -> int:
    x &= 0xFFFFFFFF
    return 32 if x == 0 else 32 - x.bit_length()
