/* SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND int8 from precomputed row and column offsets. */
#include "ops/space_to_batch_nd.h"

#include <stddef.h>

void cosim_space_to_batch_nd_s8(const cosim_space_to_batch_nd_t *p, const int8_t *in, int8_t *out)
{
    const size_t depth = (size_t)p->depth;
    int32_t dy, dx, b, y, x;
    int8_t *o = out;
    for (dy = 0; dy < p->blocks_h; ++dy) {
        const int32_t *rows = p->h_offset + (size_t)dy * (size_t)p->out_h;
        for (dx = 0; dx < p->blocks_w; ++dx) {
            const int32_t *cols = p->w_offset + (size_t)dx * (size_t)p->out_w;
            for (b = 0; b < p->batches; ++b) {
                const int8_t *image = in + (size_t)b * (size_t)p->batch_stride;
                for (y = 0; y < p->out_h; ++y) {
                    for (x = 0; x < p->out_w; ++x) {
                        size_t c;
                        if (rows[y] < 0 || cols[x] < 0) {
                            for (c = 0; c < depth; ++c) {
                                o[c] = (int8_t)p->pad_value;
                            }
                        } else {
                            const int8_t *src = image + (size_t)rows[y] + (size_t)cols[x];
                            for (c = 0; c < depth; ++c) {
                                o[c] = src[c];
                            }
                        }
                        o += depth;
                    }
                }
            }
        }
    }
}
