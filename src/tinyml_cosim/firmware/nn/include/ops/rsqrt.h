/* RSQRT int8 elementwise (TFLM's quantized Rsqrt): a fixed-point 1/sqrt of each offset, then one requantization. */
#ifndef COSIM_NN_OPS_RSQRT_H
#define COSIM_NN_OPS_RSQRT_H
#include <stdint.h>

typedef struct {
    int32_t size;
    int32_t in_zp, out_zp;
    int32_t out_mult, out_shift;
} cosim_rsqrt_t;

void cosim_rsqrt_s8(const cosim_rsqrt_t *p, const int8_t *in, int8_t *out);

#endif
