/* SOFTMAX, LOGISTIC and TANH int8: gemmlowp-style fixed-point exp and reciprocal, the arithmetic TFLM's reference
 * kernels use for int8 (no lookup tables, no float). Raw int32 values; "F<n>" is a value with n integer bits. */
#include "cosim_nn.h"
#include "fixedpoint.h"

static int32_t rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/* Rescale between integer-bit counts: fewer integer bits = saturating left shift, more = rounding right shift. */
static int32_t rescale(int32_t x, int src_bits, int dst_bits)
{
    const int e = src_bits - dst_bits;
    if (e > 0) return cosim_sat_shl(x, e);
    if (e < 0) return cosim_rdbpot(x, -e);
    return x;
}

/* exp(a) for a in [-1/4, 0), F0 -> F0 */
static int32_t exp_quarter(int32_t a)
{
    const int32_t constant_term = 1895147668; /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = cosim_add_wrap(a, 1 << 28); /* a + 1/8 */
    const int32_t x2 = cosim_srdhm(x, x);
    const int32_t x3 = cosim_srdhm(x2, x);
    const int32_t x4 = cosim_srdhm(x2, x2);
    const int32_t x4_over_4 = cosim_rdbpot(x4, 2);
    const int32_t inner = cosim_add_wrap(cosim_srdhm(cosim_add_wrap(x4_over_4, x3), constant_1_over_3), x2);
    const int32_t poly = cosim_rdbpot(inner, 1);
    return cosim_add_wrap(constant_term, cosim_srdhm(constant_term, cosim_add_wrap(x, poly)));
}

/* exp(a) for a <= 0, F<int_bits> -> F0 */
static int32_t exp_on_negative_values(int32_t a, int int_bits)
{
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int frac_bits = 31 - int_bits;
    const int32_t one_quarter = (int32_t)1 << (frac_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_one_quarter = cosim_sub_wrap(a & mask, one_quarter);
    int32_t result = exp_quarter(rescale(a_mod_quarter_minus_one_quarter, int_bits, 0));
    const int32_t remainder = cosim_sub_wrap(a_mod_quarter_minus_one_quarter, a);
    int k;
    for (k = 0; k < 7; ++k) {
        const int exponent = k - 2;
        if (int_bits > exponent) {
            const int32_t bit = (int32_t)((uint32_t)1 << (frac_bits + exponent));
            if (remainder & bit) result = cosim_srdhm(result, multipliers[k]);
        }
    }
    if (int_bits > 5) {
        const int32_t clamp = -((int32_t)1 << (36 - int_bits));
        if (a < clamp) result = 0;
    }
    if (a == 0) result = COSIM_INT32_MAX;
    return result;
}

/* Newton-Raphson for 1/(1+a), a in [0,1): returns x in F2 */
static int32_t newton_f2(int32_t a)
{
    const int32_t half_denominator = rounding_half_sum(a, COSIM_INT32_MAX);
    int32_t x = cosim_add_wrap(1515870810, cosim_srdhm(half_denominator, -1010580540));
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = cosim_srdhm(half_denominator, x);
        const int32_t one_minus = cosim_sub_wrap(1 << 29, half_denominator_times_x);
        x = cosim_add_wrap(x, rescale(cosim_srdhm(x, one_minus), 4, 2));
    }
    return x;
}

static int32_t one_over_one_plus_x(int32_t a) { return rescale(newton_f2(a), 1, 0); }
static int32_t one_minus_x_over_one_plus_x(int32_t a) { return rescale(cosim_sub_wrap(newton_f2(a), 1 << 29), 2, 0); }

static int32_t count_leading_zeros(uint32_t x)
{
    int32_t n = 0;
    if (x == 0) return 32;
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
}

void cosim_softmax_s8(const cosim_softmax_t *p, const int8_t *input, int8_t *output)
{
    int32_t r, c;
    for (r = 0; r < p->outer; ++r) {
        const int8_t *in = input + (size_t)r * p->depth;
        int8_t *out = output + (size_t)r * p->depth;
        int32_t max_in_row = -128;
        int32_t sum_of_exps = 0; /* F12 */
        int32_t headroom, num_bits_over_unit, shifted_scale;
        uint32_t shifted;
        for (c = 0; c < p->depth; ++c) {
            if (in[c] > max_in_row) max_in_row = in[c];
        }
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t scaled = cosim_srdhm(cosim_shl_wrap(diff, p->input_left_shift), p->input_multiplier);
                sum_of_exps = cosim_add_wrap(sum_of_exps, cosim_rdbpot(exp_on_negative_values(scaled, 5), 12));
            }
        }
        headroom = count_leading_zeros((uint32_t)sum_of_exps);
        num_bits_over_unit = 12 - headroom;
        shifted = ((uint32_t)sum_of_exps << headroom) - ((uint32_t)1 << 31);
        shifted_scale = one_over_one_plus_x((int32_t)shifted);
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t scaled = cosim_srdhm(cosim_shl_wrap(diff, p->input_left_shift), p->input_multiplier);
                const int32_t e = exp_on_negative_values(scaled, 5);
                const int32_t unsat = cosim_rdbpot(cosim_srdhm(shifted_scale, e), num_bits_over_unit + 31 - 8);
                out[c] = (int8_t)cosim_clamp(unsat - 128, -128, 127);
            } else {
                out[c] = -128;
            }
        }
    }
}

void cosim_logistic_s8(const cosim_sigmoid_t *p, const int8_t *input, int8_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t v = (int32_t)input[i] - p->input_zp;
        if (v <= -p->range_radius) {
            output[i] = -128;
        } else if (v >= p->range_radius) {
            output[i] = 127;
        } else {
            const int32_t a = cosim_mbqm(v, p->input_multiplier, p->input_left_shift); /* F4 */
            int32_t res;
            if (a == 0) {
                res = 1 << 30;
            } else {
                const int32_t abs_a = a > 0 ? a : cosim_sub_wrap(0, a);
                const int32_t pos = one_over_one_plus_x(exp_on_negative_values(cosim_sub_wrap(0, abs_a), 4));
                res = a > 0 ? pos : cosim_sub_wrap(COSIM_INT32_MAX, pos);
            }
            output[i] = (int8_t)cosim_clamp(cosim_rdbpot(res, 31 - 8) - 128, -128, 127);
        }
    }
}

void cosim_tanh_s8(const cosim_sigmoid_t *p, const int8_t *input, int8_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t v = (int32_t)input[i] - p->input_zp;
        if (v <= -p->range_radius) {
            output[i] = -128;
        } else if (v >= p->range_radius) {
            output[i] = 127;
        } else {
            const int32_t a = cosim_mbqm(v, p->input_multiplier, p->input_left_shift); /* F4 */
            int32_t res;
            if (a == 0) {
                res = 0;
            } else {
                const int32_t n = a < 0 ? a : cosim_sub_wrap(0, a);
                /* the same raw value read as F5 is 2n: exp(-2|a|) */
                const int32_t t = one_minus_x_over_one_plus_x(exp_on_negative_values(n, 5));
                res = a < 0 ? cosim_sub_wrap(0, t) : t;
            }
            output[i] = (int8_t)cosim_clamp(cosim_rdbpot(res, 31 - 7), -128, 127);
        }
    }
}
