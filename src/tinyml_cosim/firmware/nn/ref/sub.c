/* SUB int8 with 4-D broadcasting, TFLM's reference integer arithmetic (all multipliers below one). */
#include "ops/sub.h"

#include <stddef.h>

#include "fixedpoint.h"

static int32_t sub_one(const cosim_sub_t *p, int32_t a, int32_t b)
{
    /* |x + offset| <= 255 and 255 << 20 < 2^31: the left shifts do not overflow */
    const int32_t sa = cosim_mbqm(cosim_shl_wrap(a + p->in1_offset, p->left_shift), p->in1_mult, p->in1_shift);
    const int32_t sb = cosim_mbqm(cosim_shl_wrap(b + p->in2_offset, p->left_shift), p->in2_mult, p->in2_shift);
    const int32_t raw = cosim_mbqm(cosim_sub_wrap(sa, sb), p->out_mult, p->out_shift) + p->out_offset;
    return cosim_clamp(raw, p->act_min, p->act_max);
}

void cosim_sub_s8(const cosim_sub_t *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    int32_t i0, i1, i2, i3;
    size_t o = 0;
    for (i0 = 0; i0 < p->out_shape[0]; ++i0) {
        for (i1 = 0; i1 < p->out_shape[1]; ++i1) {
            for (i2 = 0; i2 < p->out_shape[2]; ++i2) {
                const size_t a_base = (size_t)i0 * (size_t)p->in1_strides[0] + (size_t)i1 * (size_t)p->in1_strides[1] +
                                      (size_t)i2 * (size_t)p->in1_strides[2];
                const size_t b_base = (size_t)i0 * (size_t)p->in2_strides[0] + (size_t)i1 * (size_t)p->in2_strides[1] +
                                      (size_t)i2 * (size_t)p->in2_strides[2];
                for (i3 = 0; i3 < p->out_shape[3]; ++i3) {
                    const int32_t a = in1[a_base + (size_t)i3 * (size_t)p->in1_strides[3]];
                    const int32_t b = in2[b_base + (size_t)i3 * (size_t)p->in2_strides[3]];
                    out[o++] = (int8_t)sub_one(p, a, b);
                }
            }
        }
    }
}
