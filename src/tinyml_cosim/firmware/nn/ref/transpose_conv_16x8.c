/* TRANSPOSE_CONV 16x8: the scatter of TFLM's reference int16 TransposeConv. For each input pixel and filter tap
 * that lands inside the output, each output channel gets the dot product over input channels added to its int64
 * accumulator. The sums are exact, so the order differs from TFLM's without changing a bit: a product is at most
 * 2^15 * 2^7 = 2^22 in magnitude, so up to 511 of them are summed in int32 (cheaper on the target) before each
 * addition to the int64 accumulator. */
#include "ops/transpose_conv_16x8.h"

#include <stddef.h>
#include <string.h>

#include "fixedpoint.h"
#include "ops/conv_16x8.h"

#define EXACT_INT32_TERMS 511 /* 511 * 2^22 < 2^31 */

static int64_t dot(const int16_t *px, const int8_t *f, int32_t n)
{
    int64_t sum = 0;
    int32_t at = 0;
    while (at < n) {
        const int32_t end = n - at > EXACT_INT32_TERMS ? at + EXACT_INT32_TERMS : n;
        int32_t part = 0;
        for (; at + 4 <= end; at += 4) { /* four at a time: fewer loop branches on the target */
            part += (int32_t)px[at] * f[at] + (int32_t)px[at + 1] * f[at + 1] + (int32_t)px[at + 2] * f[at + 2] +
                    (int32_t)px[at + 3] * f[at + 3];
        }
        for (; at < end; ++at) part += (int32_t)px[at] * (int32_t)f[at];
        sum += part;
    }
    return sum;
}

static void scatter_pixel(const cosim_transpose_conv_16x8_t *p, const int16_t *px, int32_t b, int32_t iy, int32_t ix,
                          int64_t *acc)
{
    const size_t taps = (size_t)p->k_h * (size_t)p->k_w * (size_t)p->in_c;
    int32_t fy, fx, oc;
    for (fy = 0; fy < p->k_h; ++fy) {
        const int32_t oy = iy * p->stride_h - p->pad_h + fy;
        if (oy < 0 || oy >= p->out_h) continue;
        for (fx = 0; fx < p->k_w; ++fx) {
            const int32_t ox = ix * p->stride_w - p->pad_w + fx;
            int64_t *dst;
            const int8_t *f;
            if (ox < 0 || ox >= p->out_w) continue;
            dst = acc + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
            f = p->filter + ((size_t)fy * p->k_w + fx) * p->in_c;
            for (oc = 0; oc < p->out_c; ++oc) dst[oc] += dot(px, f + (size_t)oc * taps, p->in_c);
        }
    }
}

void cosim_transpose_conv_16x8(const cosim_transpose_conv_16x8_t *p, const int32_t *output_shape, const int16_t *in,
                               int16_t *out, void *scratch)
{
    int64_t *acc = (int64_t *)scratch;
    const size_t pixels = (size_t)p->batches * (size_t)p->out_h * (size_t)p->out_w;
    size_t i;
    int32_t b, iy, ix, oc;
    (void)output_shape;
    memset(acc, 0, pixels * (size_t)p->out_c * sizeof(int64_t));
    for (b = 0; b < p->batches; ++b) {
        for (iy = 0; iy < p->in_h; ++iy) {
            for (ix = 0; ix < p->in_w; ++ix) {
                scatter_pixel(p, in + (((size_t)b * p->in_h + iy) * p->in_w + ix) * p->in_c, b, iy, ix, acc);
            }
        }
    }
    for (i = 0; i < pixels; ++i) {
        for (oc = 0; oc < p->out_c; ++oc) {
            const size_t at = i * (size_t)p->out_c + (size_t)oc;
            const int32_t v = cosim_requant_16x8(acc[at], p->bias, NULL, 0, oc, p->multiplier[oc], p->shift[oc]);
            out[at] = (int16_t)cosim_clamp(v, p->act_min, p->act_max);
        }
    }
}
