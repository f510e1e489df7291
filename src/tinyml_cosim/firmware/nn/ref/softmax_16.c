/* SOFTMAX int16, as TFLM's reference SoftmaxInt16 and LUTLookup; SOFTMAX int8 -> int16, as its Softmax<int8_t,
 * int16_t>. */
#include "ops/softmax_16.h"

#include "fixedpoint.h"
#include "fixedpoint_ext.h"

/* floor(v / 2^n) for any sign (an arithmetic shift, written portably) */
static int32_t asr(int32_t v, int n) { return v >= 0 ? v >> n : -(int32_t)((~(uint32_t)v) >> n) - 1; }

/* the table's value at v: base at 256 + (v >> 7) plus the slope times v's low 7 bits, rounded */
static int16_t lut_lookup(int16_t v, const int16_t *lut)
{
    const int32_t index = 256 + asr(v, 7);
    const int32_t offset = (int32_t)((uint32_t)v & 0x7Fu);
    const int16_t slope = (int16_t)(lut[index + 1] - lut[index]);
    return (int16_t)(lut[index] + asr((int32_t)slope * offset + 64, 7));
}

static int clz32(uint32_t x)
{
    int n = 0;
    if (x == 0) return 32;
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
}

void cosim_softmax_16(const cosim_softmax_16_t *p, const int16_t *in, int16_t *out)
{
    int32_t i, c;
    for (i = 0; i < p->outer; ++i) {
        const int16_t *x = in + (long)i * p->depth;
        int16_t *y = out + (long)i * p->depth;
        int16_t max = -32768;
        int32_t sum = 0;
        int headroom, right;
        int64_t shifted;
        int16_t recip;
        for (c = 0; c < p->depth; ++c) max = x[c] > max ? x[c] : max;
        for (c = 0; c < p->depth; ++c) { /* the exps, kept in the output until the reciprocal is known */
            const int32_t scaled = cosim_mbqm((int32_t)x[c] - max, p->input_multiplier, p->input_left_shift);
            y[c] = lut_lookup((int16_t)cosim_clamp(scaled + 32767, -32768, 32767), p->exp_lut);
            sum += y[c];
        }
        headroom = clz32((uint32_t)sum);
        shifted = (((int64_t)sum << (headroom - 1)) + (1 << 13)) >> 14;
        recip = lut_lookup((int16_t)cosim_clamp((int32_t)shifted - (1 << 15) - (1 << 16), -32768, 32767), p->recip_lut);
        right = 31 - headroom;
        for (c = 0; c < p->depth; ++c) {
            const int64_t r = ((int64_t)y[c] * recip + ((int64_t)1 << (right - 1))) >> right;
            y[c] = (int16_t)(r < 0 ? 0 : (r > 32767 ? 32767 : r));
        }
    }
}

/* exp(x - max) in F0 for a difference at or above diff_min (Q5.26 after the beta multiplier) */
static int32_t exp_of_diff(const cosim_softmax_8_16_t *p, int32_t diff)
{
    return cosim_exp_on_negative_values(cosim_srdhm(cosim_shl_wrap(diff, p->input_left_shift), p->input_multiplier), 5);
}

void cosim_softmax_8_16(const cosim_softmax_8_16_t *p, const int8_t *in, int16_t *out)
{
    int32_t i, c;
    for (i = 0; i < p->outer; ++i) {
        const int8_t *x = in + (long)i * p->depth;
        int16_t *y = out + (long)i * p->depth;
        int32_t max = -128, sum = 0, bits_over_unit, scale;
        for (c = 0; c < p->depth; ++c) max = x[c] > max ? x[c] : max;
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)x[c] - max;
            if (diff >= p->diff_min) sum = cosim_add_wrap(sum, cosim_rdbpot(exp_of_diff(p, diff), 12)); /* F12 */
        }
        scale = cosim_reciprocal(sum, 12, &bits_over_unit);
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)x[c] - max;
            int32_t v = -32768;
            if (diff >= p->diff_min) {
                const int32_t unsat = cosim_rdbpot(cosim_srdhm(scale, exp_of_diff(p, diff)), bits_over_unit + 31 - 16);
                v = cosim_clamp(unsat - 32768, -32768, 32767);
            }
            y[c] = (int16_t)v;
        }
    }
}
