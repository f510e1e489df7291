/* HARD_SWISH int8: TFLM's reference 16-bit fixed-point arithmetic (Q15 multipliers prepared by the compiler). */
#ifndef COSIM_NN_OPS_HARD_SWISH_H
#define COSIM_NN_OPS_HARD_SWISH_H
#include <stdint.h>

typedef struct {
    int32_t size;
    int32_t input_zp, output_zp;
    int32_t output_mult16, output_exponent; /* exponent <= 0 */
    int32_t reluish_mult16, reluish_exponent;
} cosim_hard_swish_t;

void cosim_hard_swish_s8(const cosim_hard_swish_t *p, const int8_t *in, int8_t *out);

#endif
