/* ADD, SUB and MUL int16 (the 16x8 path) with 4-D broadcasting, as TFLM's reference kernels: ADD (SUB) scales both
 * inputs into a common 2^15-shifted domain and requantizes the sum (difference) once; MUL requantizes the product with
 * one multiplier (the offsets and input multipliers are 0 then). Strides are element strides per output dimension, 0 =
 * broadcast. */
#ifndef COSIM_NN_OPS_ELTWISE_16X8_H
#define COSIM_NN_OPS_ELTWISE_16X8_H
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
} cosim_eltwise_16x8_t;

void cosim_add_16x8(const cosim_eltwise_16x8_t *p, const int16_t *in1, const int16_t *in2, int16_t *out);
void cosim_sub_16x8(const cosim_eltwise_16x8_t *p, const int16_t *in1, const int16_t *in2, int16_t *out);
void cosim_mul_16x8(const cosim_eltwise_16x8_t *p, const int16_t *in1, const int16_t *in2, int16_t *out);

#endif
