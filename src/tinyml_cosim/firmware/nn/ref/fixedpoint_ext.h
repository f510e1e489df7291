/*
 * TFLM's integer helpers beyond fixedpoint.h, written from the arithmetic TFLM computes (the numpy twins are in
 * tinyml_cosim/nn/ops/fixed_math.py): gemmlowp's exp_on_negative_values and one_over_one_plus_x_for_x_in_0_1,
 * CountLeadingZeros / CountLeadingSignBits, GetReciprocal, GetInvSqrtQuantizedMultiplierExp and
 * log_x_for_x_greater_than_or_equal_to_1. Raw int32 values; "F<n>" is a value with n integer bits. softmax.c keeps
 * its own static copies of the first two (it predates this header).
 */
#ifndef COSIM_NN_FIXEDPOINT_EXT_H
#define COSIM_NN_FIXEDPOINT_EXT_H

#include <stdint.h>

#include "fixedpoint.h"

static inline int32_t cosim_clz32(uint32_t x)
{
    int32_t n = 0;
    if (x == 0) return 32;
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
}

/* leading redundant sign bits (31 for 0 and -1), as gcc's __builtin_clrsb */
static inline int32_t cosim_clrsb32(int32_t x) { return cosim_clz32((uint32_t)(x < 0 ? ~x : x)) - 1; }

/* SaturatingRoundingMultiplyByPOTParam, exponent >= 0 */
static inline int32_t cosim_sat_pot(int32_t x, int exponent) { return exponent == 0 ? x : cosim_sat_shl(x, exponent); }

static inline int32_t cosim_sat_add(int32_t a, int32_t b)
{
    const int64_t s = (int64_t)a + (int64_t)b;
    return s > COSIM_INT32_MAX ? COSIM_INT32_MAX : (s < COSIM_INT32_MIN ? COSIM_INT32_MIN : (int32_t)s);
}

static inline int32_t cosim_sat_sub(int32_t a, int32_t b)
{
    const int64_t s = (int64_t)a - (int64_t)b;
    return s > COSIM_INT32_MAX ? COSIM_INT32_MAX : (s < COSIM_INT32_MIN ? COSIM_INT32_MIN : (int32_t)s);
}

static inline int32_t cosim_rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* Rescale between integer-bit counts: fewer integer bits = saturating left shift, more = rounding right shift. */
static inline int32_t cosim_rescale(int32_t x, int src_bits, int dst_bits)
{
    const int e = src_bits - dst_bits;
    if (e > 0) return cosim_sat_shl(x, e);
    if (e < 0) return cosim_rdbpot(x, -e);
    return x;
}

/* exp(a) for a in [-1/4, 0), F0 -> F0 */
static inline int32_t cosim_exp_quarter(int32_t a)
{
    const int32_t constant_term = 1895147668; /* exp(-1/8) */
    const int32_t x = cosim_add_wrap(a, 1 << 28);
    const int32_t x2 = cosim_srdhm(x, x);
    const int32_t x3 = cosim_srdhm(x2, x);
    const int32_t x4_over_4 = cosim_rdbpot(cosim_srdhm(x2, x2), 2);
    const int32_t inner = cosim_add_wrap(cosim_srdhm(cosim_add_wrap(x4_over_4, x3), 715827883), x2);
    return cosim_add_wrap(constant_term, cosim_srdhm(constant_term, cosim_add_wrap(x, cosim_rdbpot(inner, 1))));
}

/* exp(a) for a <= 0, F<int_bits> -> F0 */
static inline int32_t cosim_exp_on_negative_values(int32_t a, int int_bits)
{
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int frac_bits = 31 - int_bits;
    const int32_t one_quarter = (int32_t)1 << (frac_bits - 2);
    const int32_t a_mod_quarter_minus_one_quarter = cosim_sub_wrap(a & (one_quarter - 1), one_quarter);
    const int32_t remainder = cosim_sub_wrap(a_mod_quarter_minus_one_quarter, a);
    int32_t result = cosim_exp_quarter(cosim_rescale(a_mod_quarter_minus_one_quarter, int_bits, 0));
    int k;
    for (k = 0; k < 7; ++k) {
        if (int_bits > k - 2 && (remainder & (int32_t)((uint32_t)1 << (frac_bits + k - 2)))) {
            result = cosim_srdhm(result, multipliers[k]);
        }
    }
    if (int_bits > 5 && a < -((int32_t)1 << (36 - int_bits))) result = 0;
    return a == 0 ? COSIM_INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1), F0 -> F0 (three Newton-Raphson steps in F2) */
static inline int32_t cosim_one_over_one_plus_x(int32_t a)
{
    const int32_t half_denominator = cosim_rounding_half_sum(a, COSIM_INT32_MAX);
    int32_t x = cosim_add_wrap(1515870810, cosim_srdhm(half_denominator, -1010580540));
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t one_minus = cosim_sub_wrap(1 << 29, cosim_srdhm(half_denominator, x));
        x = cosim_add_wrap(x, cosim_rescale(cosim_srdhm(x, one_minus), 4, 2));
    }
    return cosim_rescale(x, 1, 0);
}

/* GetReciprocal: 1 / x (x >= 0) as an F0 multiplier and the bits it stands over one */
static inline int32_t cosim_reciprocal(int32_t x, int x_integer_digits, int32_t *num_bits_over_unit)
{
    const int32_t headroom_plus_one = cosim_clz32((uint32_t)x);
    /* a zero x has 32 leading zeros: its shifted value is 0, what both x86 and Arm give for 0 << 32 */
    const uint32_t shifted = headroom_plus_one >= 32 ? 0u : (uint32_t)x << headroom_plus_one;
    *num_bits_over_unit = x_integer_digits - headroom_plus_one;
    return cosim_one_over_one_plus_x((int32_t)(shifted - ((uint32_t)1 << 31)));
}

/* GetInvSqrtQuantizedMultiplierExp with reverse_shift -1: 1/sqrt(input) as a multiplier and a left shift */
static inline void cosim_inv_sqrt(int32_t input, int32_t *multiplier, int32_t *shift)
{
    const int32_t half_three = (1 << 28) + (1 << 27); /* 1.5 in F3 */
    int32_t s = 11, pairs, half_input, x = 1 << 28;   /* x = 1.0 in F3 */
    int i;
    if (input <= 1) {
        *multiplier = COSIM_INT32_MAX;
        *shift = 0;
        return;
    }
    while (input >= (1 << 29)) {
        input /= 4;
        ++s;
    }
    pairs = (cosim_clz32((uint32_t)input) - 1) / 2 - 1;
    s -= pairs;
    input = cosim_shl_wrap(input, 2 * pairs);
    half_input = cosim_rdbpot(input >> 1, 1);
    for (i = 0; i < 5; ++i) {
        const int32_t x3 = cosim_sat_shl(cosim_srdhm(cosim_srdhm(x, x), x), 6);
        x = cosim_sat_shl(cosim_sub_wrap(cosim_srdhm(half_three, x), cosim_srdhm(half_input, x3)), 3);
    }
    x = cosim_srdhm(x, 1518500250); /* * sqrt(2) / 2 */
    if (s < 0) {
        x = cosim_shl_wrap(x, -s);
        s = 0;
    }
    *multiplier = x;
    *shift = -s;
}

/* log(x) for x >= 1: F<in_bits> -> F<out_bits> (out_bits + 1 integer bits of headroom while accumulating) */
static inline int32_t cosim_log_x_ge_1(int32_t z_a, int in_bits, int out_bits)
{
    const int acc_bits = out_bits + 1;
    const int32_t sqrt_half = 1518500250, sqrt_sqrt_half = 1805811301;
    const int32_t shifted_quarter = cosim_rdbpot(1 << 29, acc_bits);
    const int32_t hp1 = cosim_clz32((uint32_t)z_a);
    const int32_t r_a_raw = cosim_sat_pot(cosim_srdhm(cosim_sat_pot(z_a, hp1 - 1), sqrt_half), 1);
    const int32_t z_a_adj = cosim_sat_add(cosim_sat_pot(in_bits - hp1, 31 - acc_bits), shifted_quarter);
    const int32_t z_b_headroom = cosim_clz32((uint32_t)cosim_srdhm(z_a, sqrt_half)) - 1;
    const int32_t r_b_raw = cosim_sat_pot(z_a, z_b_headroom);
    const int32_t z_b_adj = cosim_sat_sub(cosim_sat_pot(in_bits - z_b_headroom, 31 - acc_bits), shifted_quarter);
    const int32_t r = r_a_raw < r_b_raw ? r_a_raw : r_b_raw;
    const int32_t z_pow_2_adj = z_a_adj > z_b_adj ? z_a_adj : z_b_adj;
    const int32_t p = cosim_rounding_half_sum(r, sqrt_sqrt_half);
    const int32_t q1 = cosim_sub_wrap(r, sqrt_sqrt_half);
    const int32_t q = cosim_add_wrap(q1, q1);
    const int32_t common_sq = cosim_srdhm(q, q);
    const int32_t num = cosim_add_wrap(cosim_srdhm(q, r), cosim_srdhm(cosim_srdhm(q, common_sq), 117049297));
    const int32_t inner = cosim_add_wrap(cosim_add_wrap(1057819769, q), cosim_srdhm(127690142, common_sq));
    const int32_t denom_minus_one = cosim_add_wrap(cosim_srdhm(p, inner), cosim_srdhm(638450708, q));
    const int32_t recip_denom = cosim_one_over_one_plus_x(denom_minus_one);
    const int32_t num_scaled = cosim_rdbpot(num, acc_bits);
    const int32_t total = cosim_add_wrap(cosim_srdhm(z_pow_2_adj, 1488522236), cosim_srdhm(num_scaled, recip_denom));
    return cosim_rescale(total, acc_bits, out_bits);
}

#endif
