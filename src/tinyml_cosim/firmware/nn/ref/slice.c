/* SLICE int8 over up to five dimensions. */
#include "ops/slice.h"

#include <stddef.h>

void cosim_slice_s8(const cosim_slice_t *p, const int8_t *in, int8_t *out)
{
    const int32_t *n = p->out_shape;
    const int32_t *s = p->in_strides;
    const int8_t *corner = in + (size_t)p->offset;
    int32_t i0, i1, i2, i3, i4;
    size_t o = 0;
    for (i0 = 0; i0 < n[0]; ++i0) {
        for (i1 = 0; i1 < n[1]; ++i1) {
            for (i2 = 0; i2 < n[2]; ++i2) {
                for (i3 = 0; i3 < n[3]; ++i3) {
                    const int8_t *row = corner + (size_t)i0 * (size_t)s[0] + (size_t)i1 * (size_t)s[1] +
                                        (size_t)i2 * (size_t)s[2] + (size_t)i3 * (size_t)s[3];
                    for (i4 = 0; i4 < n[4]; ++i4) {
                        out[o++] = row[i4]; /* the innermost input stride is 1 */
                    }
                }
            }
        }
    }
}
