/* DIV int8 with 4-D broadcasting: TFLM's reference integer Div (a fixed-point reciprocal of the divisor, the
 * dividend scaled by its headroom, one requantization). Strides are element strides per output dimension, 0 =
 * broadcast. */
#ifndef COSIM_NN_OPS_DIV_H
#define COSIM_NN_OPS_DIV_H
#include <stdint.h>

typedef struct {
    int32_t out_shape[4];
    int32_t in1_strides[4];
    int32_t in2_strides[4];
    int32_t in1_offset, in2_offset, out_offset;
    int32_t out_mult, out_shift;
    int32_t act_min, act_max;
} cosim_div_t;

void cosim_div_s8(const cosim_div_t *p, const int8_t *in1, const int8_t *in2, int8_t *out);

#endif
