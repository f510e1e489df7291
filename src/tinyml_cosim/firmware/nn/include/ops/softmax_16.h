/* SOFTMAX int16 (the 16x8 path), as TFLM's reference SoftmaxInt16: per row of `depth` values, exp(x - max) from an
 * interpolated 513-entry table, the reciprocal of their sum from a second one (1 / (1 + x)), each exp times it.
 * Both tables are TFLM's Prepare's, computed by the compiler and emitted to flash. */
#ifndef COSIM_NN_OPS_SOFTMAX_16_H
#define COSIM_NN_OPS_SOFTMAX_16_H
#include <stdint.h>

typedef struct {
    int32_t outer, depth;
    int32_t input_multiplier, input_left_shift;
    const int16_t *exp_lut;   /* exp on [-10, 0], 513 entries */
    const int16_t *recip_lut; /* 1 / (1 + x) on [0, 1], 513 entries */
} cosim_softmax_16_t;

/* SOFTMAX int8 -> int16 (TFLM's reference Softmax<int8_t, int16_t>): the int8 kernel's fixed-point exp and
 * reciprocal, output zero point -32768, scale 1/65536. */
typedef struct {
    int32_t outer, depth;
    int32_t input_multiplier, input_left_shift;
    int32_t diff_min;
} cosim_softmax_8_16_t;

void cosim_softmax_16(const cosim_softmax_16_t *p, const int16_t *in, int16_t *out);
void cosim_softmax_8_16(const cosim_softmax_8_16_t *p, const int8_t *in, int16_t *out);

#endif
