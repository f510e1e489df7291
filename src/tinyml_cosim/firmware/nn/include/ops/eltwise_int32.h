/* ADD, SUB, MUL, DIV, MAXIMUM and MINIMUM of int32 tensors with 4-D broadcasting (strides in elements per output
 * dimension, 0 = broadcast), as TFLM's reference kernels: wrapping sums and products, C's truncating division,
 * then the activation range. */
#ifndef COSIM_NN_OPS_ELTWISE_INT32_H
#define COSIM_NN_OPS_ELTWISE_INT32_H
#include <stdint.h>

typedef struct {
    int32_t out_shape[4];
    int32_t in1_strides[4];
    int32_t in2_strides[4];
    int32_t op; /* 0 ADD, 1 SUB, 2 MUL, 3 DIV, 4 MAXIMUM, 5 MINIMUM */
    int32_t act_min, act_max;
} cosim_eltwise_s32_t;

void cosim_eltwise_s32(const cosim_eltwise_s32_t *p, const void *in1, const void *in2, void *out);

#endif
