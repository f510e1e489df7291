/* PRELU int8 with alpha broadcasting, TFLM's reference integer arithmetic. */
#include "ops/prelu.h"

#include "broadcast4d.h"
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
#define PRELU_ONE(x, a) prelu_one(p, x, a)
    COSIM_BROADCAST_4D(p->out_shape, p->in_strides, p->alpha_strides, in, alpha, out, PRELU_ONE);
#undef PRELU_ONE
}
