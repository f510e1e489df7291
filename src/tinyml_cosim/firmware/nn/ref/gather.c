/* GATHER int8 from a precomputed index table. */
#include "ops/gather.h"

#include <stddef.h>

void cosim_gather_s8(const cosim_gather_t *p, const int8_t *in, int8_t *out)
{
    const size_t inner = (size_t)p->inner;
    int32_t b, o, c;
    size_t k = 0;
    for (b = 0; b < p->batches; ++b) {
        const int32_t *idx = p->indices + (size_t)b * (size_t)p->coords;
        for (o = 0; o < p->outer; ++o) {
            const int8_t *base = in + ((size_t)b * (size_t)p->outer + (size_t)o) * (size_t)p->axis_size * inner;
            for (c = 0; c < p->coords; ++c) {
                const int8_t *src = base + (size_t)idx[c] * inner;
                size_t i;
                for (i = 0; i < inner; ++i) {
                    out[k++] = src[i];
                }
            }
        }
    }
}
