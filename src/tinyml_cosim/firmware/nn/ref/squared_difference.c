/* SQUARED_DIFFERENCE int8 with 4-D broadcasting, TFLM's reference integer arithmetic. */
#include "ops/squared_difference.h"

#include "broadcast4d.h"
#include "fixedpoint.h"

static int32_t sqdiff_one(const cosim_squared_difference_t *p, int32_t a, int32_t b)
{
    /* |x + offset| <= 255 and 255 << 7 < 2^31: the left shifts do not overflow */
    const int32_t sa = cosim_mbqm(cosim_shl_wrap(a + p->in1_offset, p->left_shift), p->in1_mult, p->in1_shift);
    const int32_t sb = cosim_mbqm(cosim_shl_wrap(b + p->in2_offset, p->left_shift), p->in2_mult, p->in2_shift);
    const int32_t diff = sa - sb; /* |diff| < 2^15: the square fits int32 */
    const int32_t raw = cosim_mbqm(diff * diff, p->out_mult, p->out_shift) + p->out_offset;
    return cosim_clamp(raw, p->act_min, p->act_max);
}

void cosim_squared_difference_s8(const cosim_squared_difference_t *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
#define SQDIFF_ONE(a, b) sqdiff_one(p, a, b)
    COSIM_BROADCAST_4D(p->out_shape, p->in1_strides, p->in2_strides, in1, in2, out, SQDIFF_ONE);
#undef SQDIFF_ONE
}
