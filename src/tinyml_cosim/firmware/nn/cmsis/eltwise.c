/* ADD and MUL over CMSIS-NN (arm_elementwise_add_s8 / arm_elementwise_mul_s8, the calls TFLM's CMSIS-NN ADD and
 * MUL make) when neither input broadcasts; broadcasting stays on the ref kernel (TFLM's CMSIS-NN kernels fall back
 * to the reference there too). arm_elementwise_mul_s8 is TFLM's reference Mul: the offset inputs' product (16-bit
 * SIMD sums: |x + offset| <= 255) requantized once with the same double rounding. Replaces
 * firmware/nn/ref/eltwise.c, which stays linked (renamed). */
#include "cmsis_adapter.h"

void cosim_ref_add_s8(const cosim_eltwise_t *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void cosim_ref_mul_s8(const cosim_eltwise_t *p, const int8_t *in1, const int8_t *in2, int8_t *out);
#define cosim_add_s8 cosim_ref_add_s8
#define cosim_mul_s8 cosim_ref_mul_s8
#include "../ref/eltwise.c"
#undef cosim_add_s8
#undef cosim_mul_s8

/* Both inputs have the output's shape, laid out contiguously (the compiler writes stride 0 for a broadcast axis). */
static int same_shape(const cosim_eltwise_t *p)
{
    int32_t stride = 1;
    for (int i = 3; i >= 0; --i) {
        if (p->out_shape[i] != 1 && (p->in1_strides[i] != stride || p->in2_strides[i] != stride)) return 0;
        stride *= p->out_shape[i];
    }
    return 1;
}

void cosim_add_s8(const cosim_eltwise_t *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    if (!same_shape(p) ||
        arm_elementwise_add_s8(in1, in2, p->in1_offset, p->in1_mult, p->in1_shift, p->in2_offset, p->in2_mult,
                               p->in2_shift, p->left_shift, out, p->out_offset, p->out_mult, p->out_shift, p->act_min,
                               p->act_max, p->size) != ARM_CMSIS_NN_SUCCESS) {
        cosim_nn_fallbacks += same_shape(p) ? 1u : 0u; /* broadcasting is an expected ref case, not a fallback */
        cosim_ref_add_s8(p, in1, in2, out);
    }
}

void cosim_mul_s8(const cosim_eltwise_t *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    if (!same_shape(p) ||
        arm_elementwise_mul_s8(in1, in2, p->in1_offset, p->in2_offset, out, p->out_offset, p->out_mult, p->out_shift,
                               p->act_min, p->act_max, p->size) != ARM_CMSIS_NN_SUCCESS) {
        cosim_nn_fallbacks += same_shape(p) ? 1u : 0u; /* broadcasting is an expected ref case, not a fallback */
        cosim_ref_mul_s8(p, in1, in2, out);
    }
}
