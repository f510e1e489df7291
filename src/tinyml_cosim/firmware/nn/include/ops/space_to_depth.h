/* SPACE_TO_DEPTH and DEPTH_TO_SPACE int8 (NHWC): the output walked in order over six dimensions (batch, two spatial
 * dimensions, the block's row and column, channels in the order the operator puts them), the input stepped by
 * per-dimension strides the compiler worked out, so the kernel only moves bytes. */
#ifndef COSIM_NN_OPS_SPACE_TO_DEPTH_H
#define COSIM_NN_OPS_SPACE_TO_DEPTH_H
#include <stdint.h>

typedef struct {
    int32_t out_shape[6];
    int32_t in_strides[6];
} cosim_space_to_depth_t;

void cosim_space_to_depth_s8(const cosim_space_to_depth_t *p, const int8_t *in, int8_t *out);

#endif
