/* SUB int8 with 4-D broadcasting, TFLM's reference integer arithmetic (all multipliers below one). */
#include "ops/sub.h"

#include "broadcast4d.h"
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
#define SUB_ONE(a, b) sub_one(p, a, b)
    COSIM_BROADCAST_4D(p->out_shape, p->in1_strides, p->in2_strides, in1, in2, out, SUB_ONE);
#undef SUB_ONE
}
