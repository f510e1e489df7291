/* SOFTMAX int8 -> int16 over CMSIS-NN (arm_softmax_s8_s16, as TFLM's CMSIS-NN SOFTMAX calls it: the int8 kernel's
 * gemmlowp exp and reciprocal with the int16 output's exponent, which arm_softmax_s8's adapter already relies on).
 * SOFTMAX int16 stays on the ref kernel: arm_softmax_s16 leaves out two of TFLM's reference clamps (the reciprocal
 * table's index when the normalised sum rounds up to 2^31, and each output to [0, 32767]), so it can differ. Replaces
 * firmware/nn/ref/softmax_16.c, which stays linked (renamed). */
#include "cmsis_adapter.h"
#include "ops/softmax_16.h"

void cosim_ref_softmax_8_16(const cosim_softmax_8_16_t *p, const int8_t *in, int16_t *out);
#define cosim_softmax_8_16 cosim_ref_softmax_8_16
#include "../ref/softmax_16.c"
#undef cosim_softmax_8_16

void cosim_softmax_8_16(const cosim_softmax_8_16_t *p, const int8_t *in, int16_t *out)
{
    arm_softmax_s8_s16(in, p->outer, p->depth, p->input_multiplier, p->input_left_shift, p->diff_min, out);
}
