/* MIRROR_PAD int8 up to 4-D: per output dimension a table (output coordinate -> input element offset along that
 * dimension, mirrored back inside the input), the four tables one after another in `offsets`. */
#ifndef COSIM_NN_OPS_MIRROR_PAD_H
#define COSIM_NN_OPS_MIRROR_PAD_H
#include <stdint.h>

typedef struct {
    int32_t out_shape[4];
    const int32_t *offsets;
} cosim_mirror_pad_t;

void cosim_mirror_pad_s8(const cosim_mirror_pad_t *p, const int8_t *in, int8_t *out);

#endif
