/* HARD_SWISH int8 in 16-bit fixed point, as TFLM's reference kernel (gemmlowp int16 primitives). */
#include "ops/hard_swish.h"

/* int16 wrap-around, as the C++ gets from storing an int into an int16_t */
static int16_t wrap16(int32_t x) { return (int16_t)(uint16_t)(uint32_t)x; }

static int16_t srdhm16(int16_t a, int16_t b)
{
    const int32_t ab = (int32_t)a * (int32_t)b;
    const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
    if (a == b && a == INT16_MIN) {
        return INT16_MAX;
    }
    return wrap16((ab + nudge) / (1 << 15)); /* C division truncates, as the reference */
}

/* truncating, not rounding: TFLM uses it to cancel the biases of the rounding one */
static int16_t sdhm16(int16_t a, int16_t b)
{
    if (a == b && a == INT16_MIN) {
        return INT16_MAX;
    }
    return wrap16(((int32_t)a * (int32_t)b) / (1 << 15));
}

static int16_t sat_shl16(int16_t x, int amount)
{
    const int64_t r = (int64_t)x * ((int64_t)1 << amount);
    return (int16_t)(r > INT16_MAX ? INT16_MAX : (r < INT16_MIN ? INT16_MIN : r));
}

static int16_t rdbpot16(int16_t x, int exponent)
{
    const int16_t mask = wrap16((int32_t)(((int64_t)1 << exponent) - 1)); /* an int16 mask, as the template */
    const int16_t remainder = wrap16(x & mask);
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return wrap16((x >> exponent) + (remainder > threshold ? 1 : 0));
}

static int8_t hard_swish_one(const cosim_hard_swish_t *p, int32_t x)
{
    const int16_t hires = wrap16(wrap16(x - p->input_zp) * (1 << 7));
    const int16_t preshift_out = srdhm16(hires, (int16_t)p->output_mult16);
    int16_t rel = hires;
    int16_t out;
    if (p->reluish_exponent > 0) {
        rel = sat_shl16(rel, (int)p->reluish_exponent - 1);
    }
    rel = srdhm16(rel, (int16_t)p->reluish_mult16);
    if (p->reluish_exponent > 0) {
        rel = sat_shl16(rel, 1);
    }
    if (p->reluish_exponent < 0) {
        rel = rdbpot16(rel, (int)-p->reluish_exponent);
    }
    rel = wrap16((rel + (1 << 15)) >> 1); /* [-1, 1] to [0, 1] */
    out = rdbpot16(sdhm16(rel, preshift_out), (int)-p->output_exponent);
    out = wrap16(out + p->output_zp);
    return (int8_t)(out > 127 ? 127 : (out < -128 ? -128 : out));
}

void cosim_hard_swish_s8(const cosim_hard_swish_t *p, const int8_t *in, int8_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        out[i] = hard_swish_one(p, in[i]);
    }
}
