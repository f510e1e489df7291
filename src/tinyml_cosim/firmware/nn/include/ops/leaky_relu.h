/* LEAKY_RELU int8 and int16: x - zp >= 0 scaled by input/output scale, below 0 by alpha * input/output scale (alpha may
 * be negative: its multiplier is then negative and the product negated, as TFLM does). */
#ifndef COSIM_NN_OPS_LEAKY_RELU_H
#define COSIM_NN_OPS_LEAKY_RELU_H

#include <stdint.h>

typedef struct {
    int32_t size;
    int32_t input_zp, output_zp;
    int32_t alpha_mult, alpha_shift;
    int32_t identity_mult, identity_shift;
} cosim_leaky_relu_t;

void cosim_leaky_relu_s8(const cosim_leaky_relu_t *p, const int8_t *input, int8_t *output);
void cosim_leaky_relu_s16(const cosim_leaky_relu_t *p, const int16_t *input, int16_t *output);

#endif
