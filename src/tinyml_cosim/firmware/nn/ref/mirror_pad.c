/* MIRROR_PAD int8: four table lookups per output element, the compiler having mirrored every coordinate. */
#include "ops/mirror_pad.h"

void cosim_mirror_pad_s8(const cosim_mirror_pad_t *p, const int8_t *in, int8_t *out)
{
    const int32_t *n = p->out_shape;
    const int32_t *t0 = p->offsets;
    const int32_t *t1 = t0 + n[0];
    const int32_t *t2 = t1 + n[1];
    const int32_t *t3 = t2 + n[2];
    int32_t a, b, c, d;
    int32_t o = 0;
    for (a = 0; a < n[0]; ++a) {
        for (b = 0; b < n[1]; ++b) {
            for (c = 0; c < n[2]; ++c) {
                const int32_t base = t0[a] + t1[b] + t2[c];
                for (d = 0; d < n[3]; ++d) {
                    out[o++] = in[base + t3[d]];
                }
            }
        }
    }
}
