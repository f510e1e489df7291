/* SOFTMAX over CMSIS-NN (arm_softmax_s8: TFLM's int8 softmax arithmetic, gemmlowp exp and reciprocal, as TFLM's
 * CMSIS-NN SOFTMAX calls it). LOGISTIC and TANH stay on the ref kernels. Replaces firmware/nn/ref/softmax.c, which
 * stays linked (renamed). */
#include "cmsis_adapter.h"

void cosim_ref_softmax_s8(const cosim_softmax_t *p, const int8_t *input, int8_t *output);
#define cosim_softmax_s8 cosim_ref_softmax_s8
#include "../ref/softmax.c"
#undef cosim_softmax_s8

void cosim_softmax_s8(const cosim_softmax_t *p, const int8_t *input, int8_t *output)
{
    arm_softmax_s8(input, p->outer, p->depth, p->input_multiplier, p->input_left_shift, p->diff_min, output);
}
