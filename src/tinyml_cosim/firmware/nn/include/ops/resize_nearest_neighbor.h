/* RESIZE_NEAREST_NEIGHBOR int8 (NHWC): the source row/column of every output row/column is precomputed by the
 * compiler (TFLM computes it in float32 from shapes and options only), so the kernel only copies bytes. */
#ifndef COSIM_NN_OPS_RESIZE_NEAREST_NEIGHBOR_H
#define COSIM_NN_OPS_RESIZE_NEAREST_NEIGHBOR_H
#include <stdint.h>

typedef struct {
    int32_t batches, in_h, in_w, depth;
    int32_t out_h, out_w;
    const int32_t *y_index; /* out_h entries in [0, in_h) */
    const int32_t *x_index; /* out_w entries in [0, in_w) */
} cosim_resize_nearest_t;

void cosim_resize_nearest_s8(const cosim_resize_nearest_t *p, const int8_t *in, int8_t *out);

#endif
