/* ADD and MUL int16 over CMSIS-NN (arm_elementwise_add_s16 / arm_elementwise_mul_s16, the calls TFLM's CMSIS-NN
 * ADD and MUL make for int16) when neither input broadcasts. Both CMSIS-NN kernels ignore the zero points (they take
 * int16 tensors as symmetric): an ADD with a nonzero zero point, which TFLM's reference takes, stays on the ref
 * kernel, as does broadcasting. Otherwise the arithmetic is TFLM's reference bit for bit: the same shifts and
 * multipliers, arm_nn_requantize's double rounding (doubling high multiply, rounding divide by a power of two; its
 * missing saturation is never reached: the multipliers are positive). Replaces firmware/nn/ref/eltwise_16x8.c,
 * which stays linked (renamed). */
#include "cmsis_adapter.h"
#include "ops/eltwise_16x8.h"

void cosim_ref_add_16x8(const cosim_eltwise_16x8_t *p, const int16_t *in1, const int16_t *in2, int16_t *out);
void cosim_ref_mul_16x8(const cosim_eltwise_16x8_t *p, const int16_t *in1, const int16_t *in2, int16_t *out);
#define cosim_add_16x8 cosim_ref_add_16x8
#define cosim_mul_16x8 cosim_ref_mul_16x8
#include "../ref/eltwise_16x8.c"
#undef cosim_add_16x8
#undef cosim_mul_16x8

/* The element count when both inputs have the output's shape, laid out contiguously (stride 0 marks a broadcast
 * axis), else 0. */
static int32_t same_shape_size(const cosim_eltwise_16x8_t *p)
{
    int32_t stride = 1;
    for (int i = 3; i >= 0; --i) {
        if (p->out_shape[i] != 1 && (p->in1_strides[i] != stride || p->in2_strides[i] != stride)) return 0;
        stride *= p->out_shape[i];
    }
    return stride;
}

void cosim_add_16x8(const cosim_eltwise_16x8_t *p, const int16_t *in1, const int16_t *in2, int16_t *out)
{
    const int32_t size = same_shape_size(p);
    const int symmetric = p->in1_offset == 0 && p->in2_offset == 0 && p->out_offset == 0;
    if (size == 0 || !symmetric ||
        arm_elementwise_add_s16(in1, in2, p->in1_offset, p->in1_mult, p->in1_shift, p->in2_offset, p->in2_mult,
                                p->in2_shift, p->left_shift, out, p->out_offset, p->out_mult, p->out_shift, p->act_min,
                                p->act_max, size) != ARM_CMSIS_NN_SUCCESS) {
        /* broadcasting and zero points are expected ref cases, not fallbacks */
        cosim_nn_fallbacks += size != 0 && symmetric ? 1u : 0u;
        cosim_ref_add_16x8(p, in1, in2, out);
    }
}

void cosim_mul_16x8(const cosim_eltwise_16x8_t *p, const int16_t *in1, const int16_t *in2, int16_t *out)
{
    const int32_t size = same_shape_size(p);
    if (size == 0 || arm_elementwise_mul_s16(in1, in2, 0, 0, out, 0, p->out_mult, p->out_shift, p->act_min, p->act_max,
                                             size) != ARM_CMSIS_NN_SUCCESS) {
        cosim_nn_fallbacks += size != 0 ? 1u : 0u; /* broadcasting is an expected ref case, not a fallback */
        cosim_ref_mul_16x8(p, in1, in2, out);
    }
}
