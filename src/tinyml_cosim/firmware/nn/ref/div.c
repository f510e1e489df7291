/* DIV int8 with 4-D broadcasting (TFLM's reference DivElementwise / BroadcastDivSlow arithmetic). */
#include "ops/div.h"

#include "broadcast4d.h"
#include "fixedpoint.h"
#include "fixedpoint_ext.h"

/* RoundingDivideByPOT for exponents up to 63, as the golden (TFLM built for x86) computes it: the mask is
 * (1 << exponent) - 1 in 64 bits cut to int32, the shift count taken modulo 32 (x86's sar). */
static int32_t rdbpot_wide(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(uint32_t)(((uint64_t)1 << exponent) - 1u);
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> (exponent & 31)) + ((x & mask) > threshold ? 1 : 0);
}

static int32_t div_one(const cosim_div_t *p, int32_t a, int32_t b)
{
    int32_t n = a + p->in1_offset, d = b + p->in2_offset, recip_shift, inv, headroom, unscaled, total_shift;
    if (d < 0) { /* the reciprocal must be positive: move the sign to the dividend */
        n = -n;
        d = -d;
    }
    inv = cosim_reciprocal(d, 31, &recip_shift);
    headroom = cosim_clrsb32(n);
    unscaled = cosim_srdhm(cosim_shl_wrap(n, headroom), inv);
    total_shift = p->out_shift - recip_shift - headroom; /* in [-63, 0]: the compiler bounds out_shift */
    return cosim_clamp(rdbpot_wide(cosim_srdhm(unscaled, p->out_mult), -total_shift) + p->out_offset, p->act_min,
                       p->act_max);
}

void cosim_div_s8(const cosim_div_t *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
#define DIV_ONE(a, b) div_one(p, a, b)
    COSIM_BROADCAST_4D(p->out_shape, p->in1_strides, p->in2_strides, in1, in2, out, DIV_ONE);
#undef DIV_ONE
}
