/* SUM int8 over any axes: the input seen as five dimensions, split by the compiler into the kept ones (walked in
 * output order) and the reduced ones (walked per output element), each with input element strides. The int32 sum of
 * the bytes, less the input zero point per element, is requantized by input scale / output scale (TFLM's
 * QuantizedMeanOrSum with compute_sum). */
#ifndef COSIM_NN_OPS_REDUCE_SUM_H
#define COSIM_NN_OPS_REDUCE_SUM_H
#include <stdint.h>

typedef struct {
    int32_t keep_shape[5];
    int32_t keep_strides[5];
    int32_t red_shape[5];
    int32_t red_strides[5];
    int32_t count; /* elements summed into each output */
    int32_t in_zp, out_zp;
    int32_t out_mult, out_shift;
} cosim_reduce_sum_t;

void cosim_reduce_sum_s8(const cosim_reduce_sum_t *p, const int8_t *in, int8_t *out);

#endif
