/* EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL: int8 inputs, up to 4-D broadcasting, bool output (one
 * byte per element, 0 or 1): TFLM's reference ComparisonWithScaling. Each input is brought to a common domain,
 * ((value + offset) << left_shift) times its own scale's multiplier, then compared as int32. Strides are element
 * strides per output dimension, 0 = broadcast. */
#ifndef COSIM_NN_OPS_COMPARISON_H
#define COSIM_NN_OPS_COMPARISON_H
#include <stdint.h>

typedef struct {
    int32_t out_shape[4];
    int32_t in1_strides[4];
    int32_t in2_strides[4];
    int32_t in1_offset, in2_offset;
    int32_t left_shift;
    int32_t in1_mult, in1_shift, in2_mult, in2_shift;
} cosim_comparison_t;

void cosim_equal_s8(const cosim_comparison_t *p, const int8_t *in1, const int8_t *in2, uint8_t *out);
void cosim_not_equal_s8(const cosim_comparison_t *p, const int8_t *in1, const int8_t *in2, uint8_t *out);
void cosim_less_s8(const cosim_comparison_t *p, const int8_t *in1, const int8_t *in2, uint8_t *out);
void cosim_less_equal_s8(const cosim_comparison_t *p, const int8_t *in1, const int8_t *in2, uint8_t *out);
void cosim_greater_s8(const cosim_comparison_t *p, const int8_t *in1, const int8_t *in2, uint8_t *out);
void cosim_greater_equal_s8(const cosim_comparison_t *p, const int8_t *in1, const int8_t *in2, uint8_t *out);

#endif
