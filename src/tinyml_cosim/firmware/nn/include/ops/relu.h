/* Standalone RELU (requantizing, as TFLM) and RELU6 (a clamp of the input bytes, as TFLM: no requantization). */
#ifndef COSIM_NN_OPS_RELU_H
#define COSIM_NN_OPS_RELU_H
#include <stdint.h>

typedef struct {
    int32_t size;
    int32_t input_zp, output_zp;
    int32_t multiplier, shift;
    int32_t act_min, act_max;
} cosim_relu_t;

typedef struct {
    int32_t size;
    int32_t lo, hi;
} cosim_relu6_t;

void cosim_relu_s8(const cosim_relu_t *p, const int8_t *in, int8_t *out);
void cosim_relu6_s8(const cosim_relu6_t *p, const int8_t *in, int8_t *out);

#endif
