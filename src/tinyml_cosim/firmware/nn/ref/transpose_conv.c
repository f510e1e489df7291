/* TRANSPOSE_CONV int8: the scatter of TFLM's reference TransposeConv. For each input pixel and filter tap that
 * lands inside the output, each output channel gets the dot product over input channels (the same int32 sums as
 * TFLM's per-channel loop in another order: wrap-around addition is associative, so the bytes are the same). */
#include "ops/transpose_conv.h"

#include <stddef.h>
#include <string.h>

#include "fixedpoint.h"

static void scatter(const cosim_transpose_conv_t *p, const int8_t *in, int32_t *acc)
{
    const size_t taps = (size_t)p->k_h * (size_t)p->k_w * (size_t)p->in_c;
    int32_t b, iy, ix, fy, fx, oc, ic;
    for (b = 0; b < p->batches; ++b) {
        for (iy = 0; iy < p->in_h; ++iy) {
            for (ix = 0; ix < p->in_w; ++ix) {
                const int8_t *px = in + (((size_t)b * p->in_h + iy) * p->in_w + ix) * p->in_c;
                for (fy = 0; fy < p->k_h; ++fy) {
                    const int32_t oy = iy * p->stride_h - p->pad_h + fy;
                    if (oy < 0 || oy >= p->out_h) continue;
                    for (fx = 0; fx < p->k_w; ++fx) {
                        const int32_t ox = ix * p->stride_w - p->pad_w + fx;
                        int32_t *dst;
                        const int8_t *f;
                        if (ox < 0 || ox >= p->out_w) continue;
                        dst = acc + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                        f = p->filter + ((size_t)fy * p->k_w + fx) * p->in_c;
                        for (oc = 0; oc < p->out_c; ++oc) {
                            const int8_t *fo = f + (size_t)oc * taps;
                            int32_t sum = dst[oc];
                            for (ic = 0; ic < p->in_c; ++ic) {
                                sum = cosim_add_wrap(sum, ((int32_t)px[ic] + p->input_offset) * (int32_t)fo[ic]);
                            }
                            dst[oc] = sum;
                        }
                    }
                }
            }
        }
    }
}

void cosim_transpose_conv_s8(const cosim_transpose_conv_t *p, const int8_t *in, int8_t *out, void *scratch)
{
    int32_t *acc = (int32_t *)scratch;
    const size_t pixels = (size_t)p->batches * (size_t)p->out_h * (size_t)p->out_w;
    size_t i;
    int32_t oc;
    memset(acc, 0, pixels * (size_t)p->out_c * sizeof(int32_t));
    scatter(p, in, acc);
    for (i = 0; i < pixels; ++i) {
        for (oc = 0; oc < p->out_c; ++oc) {
            const size_t at = i * (size_t)p->out_c + (size_t)oc;
            int32_t v = acc[at];
            if (p->bias != NULL) v = cosim_add_wrap(v, p->bias[oc]);
            v = cosim_mbqm(v, p->multiplier[oc], p->shift[oc]) + p->output_offset;
            out[at] = (int8_t)cosim_clamp(v, p->act_min, p->act_max);
        }
    }
}
