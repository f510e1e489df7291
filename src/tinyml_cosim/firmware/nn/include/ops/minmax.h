/* MAXIMUM / MINIMUM int8 with 4-D broadcasting: TFLM compares the raw int8 values (no requantization, whatever the
 * tensors' quantization). Strides are element strides per output dimension, 0 = broadcast. */
#ifndef COSIM_NN_OPS_MINMAX_H
#define COSIM_NN_OPS_MINMAX_H

#include <stdint.h>

typedef struct {
    int32_t out_shape[4];
    int32_t in1_strides[4];
    int32_t in2_strides[4];
} cosim_minmax_t;

void cosim_maximum_s8(const cosim_minmax_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void cosim_minimum_s8(const cosim_minmax_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif
