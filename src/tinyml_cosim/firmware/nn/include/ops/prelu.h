/* PRELU int8 with alpha broadcast up to 4-D: TFLM's reference arithmetic (one multiplier for x >= zp, one for the
 * product of the offset input and offset alpha below it). Strides per output dimension, 0 = broadcast. */
#ifndef COSIM_NN_OPS_PRELU_H
#define COSIM_NN_OPS_PRELU_H
#include <stdint.h>

typedef struct {
    int32_t out_shape[4];
    int32_t in_strides[4];
    int32_t alpha_strides[4];
    int32_t input_offset, alpha_offset, output_offset;
    int32_t mult_pos, shift_pos;
    int32_t mult_neg, shift_neg;
} cosim_prelu_t;

void cosim_prelu_s8(const cosim_prelu_t *p, const int8_t *in, const int8_t *alpha, int8_t *out);

#endif
