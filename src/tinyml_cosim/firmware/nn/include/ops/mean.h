/* MEAN over contiguous axes, the input seen as [outer, reduce, inner] (TFLM's int8 path: any axes, keep_dims or
 * not; the output shape does not change the bytes). The 1/n of the mean is folded into multiplier and shift. */
#ifndef COSIM_NN_OPS_MEAN_H
#define COSIM_NN_OPS_MEAN_H
#include <stdint.h>

typedef struct {
    int32_t outer, reduce, inner;
    int32_t input_zp, output_zp;
    int32_t multiplier, shift;
} cosim_mean_t;

void cosim_mean_s8(const cosim_mean_t *p, const int8_t *input, int8_t *output);

#endif
