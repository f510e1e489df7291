/* TRANSPOSE int8: the output walked in order over five dimensions (leading 1s), the input stepped by per-dimension
 * strides that the compiler permuted. */
#ifndef COSIM_NN_OPS_TRANSPOSE_H
#define COSIM_NN_OPS_TRANSPOSE_H
#include <stdint.h>

typedef struct {
    int32_t out_shape[5];
    int32_t in_strides[5];
} cosim_transpose_t;

void cosim_transpose_s8(const cosim_transpose_t *p, const int8_t *in, int8_t *out);

#endif
