"""TFLM's integer helpers that nn/quant.py does not have, in numpy (int32 values carried in int64, wrapping where C
wraps): CountLeadingZeros / CountLeadingSignBits, GetReciprocal, GetInvSqrtQuantizedMultiplierExp and
log_x_for_x_greater_than_or_equal_to_1. Written from the arithmetic TFLM computes; the C twins are in
firmware/nn/ref/fixedpoint_ext.h. "F<n>" is a raw int32 with n integer bits.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tinyml_cosim.nn.quant import (
    I32,
    INT32_MAX,
    INT32_MIN,
    one_over_one_plus_x_for_x_in_0_1,
    rdbpot,
    sat_shift_left,
    srdhm,
    wrap32,
)

_POWERS = np.int64(1) << np.arange(32, dtype=np.int64)


def clz32(x: npt.ArrayLike) -> I32:
    """CountLeadingZeros of the value as uint32 (32 for 0)."""
    u = np.asarray(x, dtype=np.int64) & 0xFFFFFFFF
    return 32 - (u[..., None] >= _POWERS).sum(axis=-1).astype(np.int64)


def clrsb32(x: npt.ArrayLike) -> I32:
    """CountLeadingSignBits of an int32 (31 for 0 and -1), as gcc's __builtin_clrsb."""
    a = np.asarray(x, dtype=np.int64)
    return clz32(a ^ (a >> 63)) - 1


def sat_pot(x: npt.ArrayLike, exponent: npt.ArrayLike) -> I32:
    """SaturatingRoundingMultiplyByPOTParam for exponents >= 0 given per element."""
    a = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    threshold = (np.int64(1) << (31 - e)) - 1
    r = wrap32(a << e)
    return np.where(a > threshold, INT32_MAX, np.where(a < -threshold, INT32_MIN, r)).astype(np.int64)


def _sat32(x: I32) -> I32:
    return np.clip(x, INT32_MIN, INT32_MAX).astype(np.int64)


def reciprocal(x: npt.ArrayLike, x_integer_digits: int) -> tuple[I32, I32]:
    """GetReciprocal: (1 / x as an F0 multiplier, num_bits_over_unit) for x >= 0."""
    a = np.asarray(x, dtype=np.int64)
    headroom_plus_one = clz32(a)
    # a zero x has 32 leading zeros: its shifted value is 0 (what both x86 and Arm give for 0 << 32)
    shifted = np.where(headroom_plus_one >= 32, 0, (a << np.minimum(headroom_plus_one, 31)) & 0xFFFFFFFF)
    scale = one_over_one_plus_x_for_x_in_0_1(wrap32(shifted - (1 << 31)))
    return scale, x_integer_digits - headroom_plus_one


def inv_sqrt_multiplier_exp(value: int, reverse_shift: int = -1) -> tuple[int, int]:
    """GetInvSqrtQuantizedMultiplierExp: 1/sqrt(value) as (Q0.31 multiplier, shift); values <= 1 give (MAX, 0)."""
    if value <= 1:
        return INT32_MAX, 0
    shift = 11
    while value >= (1 << 29):
        value //= 4
        shift += 1
    pairs = (int(clz32(value)) - 1) // 2 - 1
    shift -= pairs
    value <<= 2 * pairs
    fixed_input = np.int64(value >> 1)  # F3
    half_input = rdbpot(fixed_input, 1)
    half_three = np.int64((1 << 28) + (1 << 27))  # 1.5 in F3
    x = np.int64(1 << 28)  # 1.0 in F3
    for _ in range(5):  # Newton-Raphson from x = 1, as TFLM: F3 * F3 is F6, F6 * F3 is F9
        x3 = sat_shift_left(srdhm(srdhm(x, x), x), 6)
        x = sat_shift_left(wrap32(srdhm(half_three, x) - srdhm(half_input, x3)), 3)
    raw = int(srdhm(x, 1518500250))  # * sqrt(2) / 2 in F0
    if shift < 0:
        raw = int(wrap32(raw << -shift))
        shift = 0
    return raw, shift * reverse_shift


_LOG_2, _SQRT_SQRT_HALF, _SQRT_HALF = 1488522236, 1805811301, 1518500250
_ALPHA_N, _ALPHA_D, _ALPHA_I, _ALPHA_F = 117049297, 127690142, 1057819769, 638450708


def _rounding_half_sum(a: I32, b: int) -> I32:
    s = a + b
    q = (np.abs(s) + 1) // 2
    return np.where(s >= 0, q, -q).astype(np.int64)


def log_x_ge_1(x: npt.ArrayLike, in_bits: int, out_bits: int) -> I32:
    """log_x_for_x_greater_than_or_equal_to_1<out_bits>(F<in_bits> x), for x > 0."""
    acc_bits = out_bits + 1
    z_a = np.asarray(x, dtype=np.int64)
    shifted_quarter = int(rdbpot(np.int64(1 << 29), acc_bits))  # Rescale<acc_bits>(F0 1/4)
    hp1 = clz32(z_a)
    r_a_raw = sat_pot(srdhm(sat_pot(z_a, hp1 - 1), _SQRT_HALF), 1)
    z_a_pow_2_adj = _sat32(sat_pot(in_bits - hp1, 31 - acc_bits) + shifted_quarter)
    z_b_headroom = clz32(srdhm(z_a, _SQRT_HALF)) - 1
    r_b_raw = sat_pot(z_a, z_b_headroom)
    z_b_pow_2_adj = _sat32(sat_pot(in_bits - z_b_headroom, 31 - acc_bits) - shifted_quarter)
    r = np.minimum(r_a_raw, r_b_raw)
    z_pow_2_adj = np.maximum(z_a_pow_2_adj, z_b_pow_2_adj)
    p = _rounding_half_sum(r, _SQRT_SQRT_HALF)
    q = wrap32(r - _SQRT_SQRT_HALF)
    q = wrap32(q + q)
    common_sq = srdhm(q, q)
    num = wrap32(srdhm(q, r) + srdhm(srdhm(q, common_sq), _ALPHA_N))
    denom_minus_one = wrap32(srdhm(p, wrap32(wrap32(_ALPHA_I + q) + srdhm(_ALPHA_D, common_sq))) + srdhm(_ALPHA_F, q))
    recip_denom = one_over_one_plus_x_for_x_in_0_1(denom_minus_one)
    num_scaled = rdbpot(num, acc_bits)  # Rescale<acc_bits>(F0)
    total = wrap32(srdhm(z_pow_2_adj, _LOG_2) + srdhm(num_scaled, recip_denom))
    return sat_shift_left(total, acc_bits - out_bits)  # Rescale<out_bits>(F<acc_bits>)
