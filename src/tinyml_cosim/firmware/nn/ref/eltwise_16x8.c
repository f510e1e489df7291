/* ADD, SUB and MUL int16, as TFLM's reference AddElementwise / BroadcastAdd6DSlow, Sub / BroadcastQuantSubSlow and
 * MulElementwise / BroadcastMul6DSlow for int16. */
#include "ops/eltwise_16x8.h"

#include <stddef.h>

#include "fixedpoint.h"

static int32_t add_one(const cosim_eltwise_16x8_t *p, int32_t a, int32_t b)
{
    /* (x + offset) < 2^16, so the shift by 15 stays below 2^31 */
    const int32_t sa = cosim_mbqm((a + p->in1_offset) * (1 << p->left_shift), p->in1_mult, p->in1_shift);
    const int32_t sb = cosim_mbqm((b + p->in2_offset) * (1 << p->left_shift), p->in2_mult, p->in2_shift);
    const int32_t raw = cosim_mbqm(cosim_add_wrap(sa, sb), p->out_mult, p->out_shift) + p->out_offset;
    return cosim_clamp(raw, p->act_min, p->act_max);
}

static int32_t sub_one(const cosim_eltwise_16x8_t *p, int32_t a, int32_t b)
{
    const int32_t sa = cosim_mbqm((a + p->in1_offset) * (1 << p->left_shift), p->in1_mult, p->in1_shift);
    const int32_t sb = cosim_mbqm((b + p->in2_offset) * (1 << p->left_shift), p->in2_mult, p->in2_shift);
    const int32_t raw = cosim_mbqm(cosim_sub_wrap(sa, sb), p->out_mult, p->out_shift) + p->out_offset;
    return cosim_clamp(raw, p->act_min, p->act_max);
}

static int32_t mul_one(const cosim_eltwise_16x8_t *p, int32_t a, int32_t b)
{
    /* |a * b| <= 2^30 */
    return cosim_clamp(cosim_mbqm(a * b, p->out_mult, p->out_shift), p->act_min, p->act_max);
}

/* Every output element in order, with the element of each input it reads (the walk of broadcast4d.h, int16). */
#define COSIM_ELTWISE16_WALK(ONE)                                                                             \
    do {                                                                                                      \
        const int32_t *sh = p->out_shape, *s1 = p->in1_strides, *s2 = p->in2_strides;                         \
        int32_t i0, i1, i2, i3;                                                                               \
        size_t o = 0;                                                                                         \
        for (i0 = 0; i0 < sh[0]; ++i0) {                                                                      \
            for (i1 = 0; i1 < sh[1]; ++i1) {                                                                  \
                for (i2 = 0; i2 < sh[2]; ++i2) {                                                              \
                    const size_t a0 =                                                                         \
                        (size_t)i0 * (size_t)s1[0] + (size_t)i1 * (size_t)s1[1] + (size_t)i2 * (size_t)s1[2]; \
                    const size_t b0 =                                                                         \
                        (size_t)i0 * (size_t)s2[0] + (size_t)i1 * (size_t)s2[1] + (size_t)i2 * (size_t)s2[2]; \
                    for (i3 = 0; i3 < sh[3]; ++i3) {                                                          \
                        out[o++] = (int16_t)ONE(p, in1[a0 + (size_t)i3 * (size_t)s1[3]],                      \
                                                in2[b0 + (size_t)i3 * (size_t)s2[3]]);                        \
                    }                                                                                         \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
    } while (0)

void cosim_add_16x8(const cosim_eltwise_16x8_t *p, const int16_t *in1, const int16_t *in2, int16_t *out)
{
    COSIM_ELTWISE16_WALK(add_one);
}

void cosim_sub_16x8(const cosim_eltwise_16x8_t *p, const int16_t *in1, const int16_t *in2, int16_t *out)
{
    COSIM_ELTWISE16_WALK(sub_one);
}

void cosim_mul_16x8(const cosim_eltwise_16x8_t *p, const int16_t *in1, const int16_t *in2, int16_t *out)
{
    COSIM_ELTWISE16_WALK(mul_one);
}
