/* RESIZE_NEAREST_NEIGHBOR int8 (NHWC) from precomputed source indices. */
#include "ops/resize_nearest_neighbor.h"

#include <stddef.h>

void cosim_resize_nearest_s8(const cosim_resize_nearest_t *p, const int8_t *in, int8_t *out)
{
    const size_t depth = (size_t)p->depth;
    const size_t row = (size_t)p->in_w * depth;
    const size_t batch = (size_t)p->in_h * row;
    int32_t b, y, x;
    size_t o = 0;
    for (b = 0; b < p->batches; ++b) {
        for (y = 0; y < p->out_h; ++y) {
            const int8_t *src_row = in + (size_t)b * batch + (size_t)p->y_index[y] * row;
            for (x = 0; x < p->out_w; ++x) {
                const int8_t *src = src_row + (size_t)p->x_index[x] * depth;
                size_t c;
                for (c = 0; c < depth; ++c) {
                    out[o++] = src[c];
                }
            }
        }
    }
}
