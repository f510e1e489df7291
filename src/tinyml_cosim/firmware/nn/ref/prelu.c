/* PRELU int8 with alpha broadcasting, TFLM's reference integer arithmetic. */
#include "ops/prelu.h"

#include <stddef.h>

#include "fixedpoint.h"

static int8_t prelu_one(const cosim_prelu_t *p, int32_t x, int32_t a)
{
    const int32_t v = x + p->input_offset;
    /* |v * (a + offset)| <= 255 * 255: no overflow */
    const int32_t raw = v >= 0 ? cosim_mbqm(v, p->mult_pos, p->shift_pos)
                               : cosim_mbqm(v * (a + p->alpha_offset), p->mult_neg, p->shift_neg);
    return (int8_t)cosim_clamp(raw + p->output_offset, -128, 127);
}

void cosim_prelu_s8(const cosim_prelu_t *p, const int8_t *in, const int8_t *alpha, int8_t *out)
{
    int32_t i0, i1, i2, i3;
    size_t o = 0;
    for (i0 = 0; i0 < p->out_shape[0]; ++i0) {
        for (i1 = 0; i1 < p->out_shape[1]; ++i1) {
            for (i2 = 0; i2 < p->out_shape[2]; ++i2) {
                const size_t x_base = (size_t)i0 * (size_t)p->in_strides[0] + (size_t)i1 * (size_t)p->in_strides[1] +
                                      (size_t)i2 * (size_t)p->in_strides[2];
                const size_t a_base = (size_t)i0 * (size_t)p->alpha_strides[0] +
                                      (size_t)i1 * (size_t)p->alpha_strides[1] +
                                      (size_t)i2 * (size_t)p->alpha_strides[2];
                for (i3 = 0; i3 < p->out_shape[3]; ++i3) {
                    out[o++] = prelu_one(p, in[x_base + (size_t)i3 * (size_t)p->in_strides[3]],
                                         alpha[a_base + (size_t)i3 * (size_t)p->alpha_strides[3]]);
                }
            }
        }
    }
}
