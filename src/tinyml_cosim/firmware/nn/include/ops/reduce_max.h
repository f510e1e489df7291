/* REDUCE_MAX / REDUCE_MIN int8 over any axes: the input seen as five dimensions, split by the compiler into the kept
 * ones (walked in output order) and the reduced ones (walked per output element), each with input element strides.
 * No requantization: TFLM requires the output's quantization to equal the input's. */
#ifndef COSIM_NN_OPS_REDUCE_MAX_H
#define COSIM_NN_OPS_REDUCE_MAX_H
#include <stdint.h>

typedef struct {
    int32_t keep_shape[5];
    int32_t keep_strides[5];
    int32_t red_shape[5];
    int32_t red_strides[5];
} cosim_reduce_minmax_t;

void cosim_reduce_max_s8(const cosim_reduce_minmax_t *p, const int8_t *in, int8_t *out);
void cosim_reduce_min_s8(const cosim_reduce_minmax_t *p, const int8_t *in, int8_t *out);

#endif
