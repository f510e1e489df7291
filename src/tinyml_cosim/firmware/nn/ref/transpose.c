/* TRANSPOSE int8 over up to five dimensions. */
#include "ops/transpose.h"

#include <stddef.h>

void cosim_transpose_s8(const cosim_transpose_t *p, const int8_t *in, int8_t *out)
{
    const int32_t *n = p->out_shape;
    const int32_t *s = p->in_strides;
    int32_t i0, i1, i2, i3, i4;
    size_t o = 0;
    for (i0 = 0; i0 < n[0]; ++i0) {
        for (i1 = 0; i1 < n[1]; ++i1) {
            for (i2 = 0; i2 < n[2]; ++i2) {
                for (i3 = 0; i3 < n[3]; ++i3) {
                    const size_t base = (size_t)i0 * (size_t)s[0] + (size_t)i1 * (size_t)s[1] +
                                        (size_t)i2 * (size_t)s[2] + (size_t)i3 * (size_t)s[3];
                    for (i4 = 0; i4 < n[4]; ++i4) {
                        out[o++] = in[base + (size_t)i4 * (size_t)s[4]];
                    }
                }
            }
        }
    }
}
