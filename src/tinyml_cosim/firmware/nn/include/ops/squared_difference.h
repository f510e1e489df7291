/* SQUARED_DIFFERENCE int8 with 4-D broadcasting: TFLM's reference arithmetic (inputs scaled into a common
 * 2^7-shifted domain, the squared difference requantized once). Strides per output dimension, 0 = broadcast. */
#ifndef COSIM_NN_OPS_SQUARED_DIFFERENCE_H
#define COSIM_NN_OPS_SQUARED_DIFFERENCE_H
#include <stdint.h>

typedef struct {
    int32_t out_shape[4];
    int32_t in1_strides[4];
    int32_t in2_strides[4];
    int32_t in1_offset, in2_offset, out_offset;
    int32_t left_shift;
    int32_t in1_mult, in1_shift, in2_mult, in2_shift;
    int32_t out_mult, out_shift;
    int32_t act_min, act_max;
} cosim_squared_difference_t;

void cosim_squared_difference_s8(const cosim_squared_difference_t *p, const int8_t *in1, const int8_t *in2,
                                 int8_t *out);

#endif
