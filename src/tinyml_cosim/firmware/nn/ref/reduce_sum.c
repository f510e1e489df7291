/* SUM int8 (TFLM's QuantizedMeanOrSum with compute_sum: int32 sum, one requantization per output). */
#include "ops/reduce_sum.h"

#include <stddef.h>

#include "fixedpoint.h"

/* The int32 sum of the bytes under `base` over the reduced dimensions. */
static int32_t sum_one(const cosim_reduce_sum_t *p, const int8_t *base)
{
    const int32_t *n = p->red_shape;
    const int32_t *s = p->red_strides;
    int32_t acc = 0;
    int32_t i0, i1, i2, i3, i4;
    for (i0 = 0; i0 < n[0]; ++i0) {
        for (i1 = 0; i1 < n[1]; ++i1) {
            for (i2 = 0; i2 < n[2]; ++i2) {
                for (i3 = 0; i3 < n[3]; ++i3) {
                    const int8_t *row = base + (size_t)i0 * (size_t)s[0] + (size_t)i1 * (size_t)s[1] +
                                        (size_t)i2 * (size_t)s[2] + (size_t)i3 * (size_t)s[3];
                    for (i4 = 0; i4 < n[4]; ++i4) {
                        acc += row[(size_t)i4 * (size_t)s[4]]; /* the compiler bounds count * 128 below 2^31 */
                    }
                }
            }
        }
    }
    return acc;
}

static int8_t requantize(const cosim_reduce_sum_t *p, int32_t sum)
{
    const int32_t shifted = cosim_sub_wrap(sum, p->in_zp * p->count);
    return (int8_t)cosim_clamp(cosim_mbqm(shifted, p->out_mult, p->out_shift) + p->out_zp, -128, 127);
}

void cosim_reduce_sum_s8(const cosim_reduce_sum_t *p, const int8_t *in, int8_t *out)
{
    const int32_t *n = p->keep_shape;
    const int32_t *s = p->keep_strides;
    int32_t i0, i1, i2, i3, i4;
    size_t o = 0;
    for (i0 = 0; i0 < n[0]; ++i0) {
        for (i1 = 0; i1 < n[1]; ++i1) {
            for (i2 = 0; i2 < n[2]; ++i2) {
                for (i3 = 0; i3 < n[3]; ++i3) {
                    const int8_t *row = in + (size_t)i0 * (size_t)s[0] + (size_t)i1 * (size_t)s[1] +
                                        (size_t)i2 * (size_t)s[2] + (size_t)i3 * (size_t)s[3];
                    for (i4 = 0; i4 < n[4]; ++i4) {
                        out[o++] = requantize(p, sum_one(p, row + (size_t)i4 * (size_t)s[4]));
                    }
                }
            }
        }
    }
}
