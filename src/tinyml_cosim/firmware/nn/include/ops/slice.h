/* SLICE int8: the box walked in order over five dimensions (leading 1s), read from the input at a precomputed
 * element offset with the input's strides; the compiler checked that the box lies inside the input. */
#ifndef COSIM_NN_OPS_SLICE_H
#define COSIM_NN_OPS_SLICE_H
#include <stdint.h>

typedef struct {
    int32_t out_shape[5];
    int32_t in_strides[5];
    int32_t offset;
} cosim_slice_t;

void cosim_slice_s8(const cosim_slice_t *p, const int8_t *in, int8_t *out);

#endif
