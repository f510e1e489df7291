/* The six int8 comparisons, each input rescaled by its own scale as TFLM's ComparisonWithScaling, then compared. */
#include "ops/comparison.h"

#include "broadcast4d.h"
#include "fixedpoint.h"

/* (v + offset) << left_shift stays within int32: |v + offset| <= 255 and the shift is 8 */
static inline int32_t scale_in1(const cosim_comparison_t *p, int32_t v)
{
    return cosim_mbqm(cosim_shl_wrap(v + p->in1_offset, p->left_shift), p->in1_mult, p->in1_shift);
}

static inline int32_t scale_in2(const cosim_comparison_t *p, int32_t v)
{
    return cosim_mbqm(cosim_shl_wrap(v + p->in2_offset, p->left_shift), p->in2_mult, p->in2_shift);
}

#define COSIM_EQ_(a, b) (scale_in1(p, a) == scale_in2(p, b))
#define COSIM_NE_(a, b) (scale_in1(p, a) != scale_in2(p, b))
#define COSIM_LT_(a, b) (scale_in1(p, a) < scale_in2(p, b))
#define COSIM_LE_(a, b) (scale_in1(p, a) <= scale_in2(p, b))
#define COSIM_GT_(a, b) (scale_in1(p, a) > scale_in2(p, b))
#define COSIM_GE_(a, b) (scale_in1(p, a) >= scale_in2(p, b))

#define COSIM_COMPARISON_(NAME, ONE)                                                           \
    void NAME(const cosim_comparison_t *p, const int8_t *in1, const int8_t *in2, uint8_t *out) \
    {                                                                                          \
        COSIM_BROADCAST_4D(p->out_shape, p->in1_strides, p->in2_strides, in1, in2, out, ONE);  \
    }

COSIM_COMPARISON_(cosim_equal_s8, COSIM_EQ_)
COSIM_COMPARISON_(cosim_not_equal_s8, COSIM_NE_)
COSIM_COMPARISON_(cosim_less_s8, COSIM_LT_)
COSIM_COMPARISON_(cosim_less_equal_s8, COSIM_LE_)
COSIM_COMPARISON_(cosim_greater_s8, COSIM_GT_)
COSIM_COMPARISON_(cosim_greater_equal_s8, COSIM_GE_)
