/* ABS int8: |x - input_zp|, requantized (MultiplyByQuantizedMultiplier) only when the scales differ, plus the output
 * zero point, clamped to int8 -- as TFLM's reference kernel. */
#ifndef COSIM_NN_OPS_ABS_H
#define COSIM_NN_OPS_ABS_H
#include <stdint.h>

typedef struct {
    int32_t size;
    int32_t input_zp, output_zp;
    int32_t rescale; /* 0 when the input and output scales are equal */
    int32_t multiplier, shift;
} cosim_abs_t;

void cosim_abs_s8(const cosim_abs_t *p, const int8_t *in, int8_t *out);

#endif
