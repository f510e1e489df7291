/* LOG_SOFTMAX int8 along the last axis (TFLM's reference LogSoftmaxQuantized): gemmlowp fixed-point exp and log,
 * multipliers and diff_min precomputed by the compiler; output scale 16/256, zero point 127. */
#ifndef COSIM_NN_OPS_LOG_SOFTMAX_H
#define COSIM_NN_OPS_LOG_SOFTMAX_H
#include <stdint.h>

typedef struct {
    int32_t outer, depth;
    int32_t input_multiplier, input_left_shift;
    int32_t reverse_divisor, reverse_shift; /* reverse_shift: a left shift, <= 0 */
    int32_t diff_min;
} cosim_log_softmax_t;

void cosim_log_softmax_s8(const cosim_log_softmax_t *p, const int8_t *in, int8_t *out);

#endif
