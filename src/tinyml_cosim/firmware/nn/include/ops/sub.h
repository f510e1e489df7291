/* SUB int8 with 4-D broadcasting: TFLM's reference integer Sub (both inputs scaled into a common 2^20-shifted
 * domain, the difference requantized once). Strides are element strides per output dimension, 0 = broadcast. */
#ifndef COSIM_NN_OPS_SUB_H
#define COSIM_NN_OPS_SUB_H
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
} cosim_sub_t;

void cosim_sub_s8(const cosim_sub_t *p, const int8_t *in1, const int8_t *in2, int8_t *out);

#endif
