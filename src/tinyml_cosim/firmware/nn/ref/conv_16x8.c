/* CONV_2D and DEPTHWISE_CONV_2D 16x8: TFLM's reference int16 per-channel convolutions. Taps outside the image are
 * skipped; each output element's exact sum of products (at most 2^23 per tap: no int64 overflow) is requantized by
 * cosim_requant_16x8, which wraps it as TFLM's accumulator type does. */
#include "ops/conv_16x8.h"

#include <stddef.h>

#include "fixedpoint.h"

/* MultiplyByQuantizedMultiplier(int64_t, ...) of the double-rounding build: the multiplier rounded to 16 bits, one
 * rounding shift right by 15 - shift (shift <= 14: the compiler refuses more), the result truncated to int32. The
 * product and the rounding term wrap as int64 (through uint64_t, as TFLM's would in practice). */
static int32_t mbqm64(int64_t x, int32_t multiplier, int32_t shift)
{
    const int64_t reduced = multiplier < 0x7FFF0000 ? (int64_t)((multiplier + (1 << 15)) >> 16) : 0x7FFF;
    const int total = 15 - (int)shift;
    const uint64_t r = (uint64_t)x * (uint64_t)reduced + ((uint64_t)1 << (total - 1));
    return (int32_t)(uint32_t)(uint64_t)((int64_t)r >> total); /* arithmetic shift, as fixedpoint.h assumes */
}

int32_t cosim_requant_16x8(int64_t sum, const int64_t *bias, const int32_t *bias32, int32_t acc32, int32_t c,
                           int32_t multiplier, int32_t shift)
{
    if (acc32) {
        int32_t acc = (int32_t)(uint32_t)(uint64_t)sum;
        if (bias32 != NULL) acc = cosim_add_wrap(acc, bias32[c]);
        return cosim_mbqm(acc, multiplier, shift);
    }
    if (bias != NULL) sum = (int64_t)((uint64_t)sum + (uint64_t)bias[c]);
    return mbqm64(sum, multiplier, shift);
}

static int64_t conv_tap_sum(const cosim_conv_16x8_t *p, const int16_t *img, int32_t oy, int32_t ox, int32_t oc)
{
    const int32_t groups_per = p->out_c / (p->in_c / p->filter_in_c);
    const int32_t base_c = (oc / groups_per) * p->filter_in_c;
    const int8_t *f = p->filter + (size_t)oc * (size_t)p->k_h * (size_t)p->k_w * (size_t)p->filter_in_c;
    int64_t sum = 0;
    int32_t fy, fx, ic;
    for (fy = 0; fy < p->k_h; ++fy) {
        const int32_t iy = oy * p->stride_h - p->pad_h + fy * p->dil_h;
        if (iy < 0 || iy >= p->in_h) continue;
        for (fx = 0; fx < p->k_w; ++fx) {
            const int32_t ix = ox * p->stride_w - p->pad_w + fx * p->dil_w;
            const int16_t *px;
            const int8_t *ft;
            if (ix < 0 || ix >= p->in_w) continue;
            px = img + ((size_t)iy * p->in_w + ix) * p->in_c + base_c;
            ft = f + ((size_t)fy * p->k_w + fx) * p->filter_in_c;
            for (ic = 0; ic < p->filter_in_c; ++ic) sum += (int32_t)ft[ic] * (int32_t)px[ic];
        }
    }
    return sum;
}

static int64_t dw_tap_sum(const cosim_conv_16x8_t *p, const int16_t *img, int32_t oy, int32_t ox, int32_t oc)
{
    const int32_t ic = oc / p->depth_multiplier;
    int64_t sum = 0;
    int32_t fy, fx;
    for (fy = 0; fy < p->k_h; ++fy) {
        const int32_t iy = oy * p->stride_h - p->pad_h + fy * p->dil_h;
        if (iy < 0 || iy >= p->in_h) continue;
        for (fx = 0; fx < p->k_w; ++fx) {
            const int32_t ix = ox * p->stride_w - p->pad_w + fx * p->dil_w;
            if (ix < 0 || ix >= p->in_w) continue;
            sum += (int32_t)p->filter[((size_t)fy * p->k_w + fx) * p->out_c + oc] *
                   (int32_t)img[((size_t)iy * p->in_w + ix) * p->in_c + ic];
        }
    }
    return sum;
}

static void run(const cosim_conv_16x8_t *p, const int16_t *in, int16_t *out,
                int64_t (*tap_sum)(const cosim_conv_16x8_t *, const int16_t *, int32_t, int32_t, int32_t))
{
    const size_t image = (size_t)p->in_h * (size_t)p->in_w * (size_t)p->in_c;
    int32_t b, oy, ox, oc;
    for (b = 0; b < p->batches; ++b) {
        const int16_t *img = in + (size_t)b * image;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox) {
                for (oc = 0; oc < p->out_c; ++oc) {
                    const int32_t v = cosim_requant_16x8(tap_sum(p, img, oy, ox, oc), p->bias, p->bias32, p->acc32, oc,
                                                         p->multiplier[oc], p->shift[oc]);
                    *out++ = (int16_t)cosim_clamp(v, p->act_min, p->act_max);
                }
            }
        }
    }
}

void cosim_conv2d_16x8(const cosim_conv_16x8_t *p, const int16_t *in, int16_t *out) { run(p, in, out, conv_tap_sum); }

void cosim_dwconv2d_16x8(const cosim_conv_16x8_t *p, const int16_t *in, int16_t *out) { run(p, in, out, dw_tap_sum); }
