/* STRIDED_SLICE and CONCATENATION of 32-bit integer tensors: values moved, never looked at. */
#include <string.h>

#include "ops/int32_data.h"

void cosim_strided_slice_s32(const cosim_strided_slice_s32_t *p, const void *in, void *out)
{
    const int32_t *x = (const int32_t *)in, *n = p->out_shape, *s = p->steps;
    int32_t *y = (int32_t *)out;
    int32_t i0, i1, i2, i3, i4, o = 0;
    for (i0 = 0; i0 < n[0]; ++i0) {
        for (i1 = 0; i1 < n[1]; ++i1) {
            for (i2 = 0; i2 < n[2]; ++i2) {
                for (i3 = 0; i3 < n[3]; ++i3) {
                    int32_t at = p->offset + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3];
                    for (i4 = 0; i4 < n[4]; ++i4) {
                        y[o++] = x[at];
                        at += s[4];
                    }
                }
            }
        }
    }
}

static void concat(const cosim_concat_s32_t *p, const void *const *ins, void *out)
{
    int32_t *y = (int32_t *)out;
    int32_t o, k;
    for (o = 0; o < p->outer; ++o) {
        for (k = 0; k < p->count; ++k) {
            const int32_t n = p->sizes[k];
            memcpy(y, (const int32_t *)ins[k] + o * n, sizeof(int32_t) * (uint32_t)n);
            y += n;
        }
    }
}

void cosim_concat_s32_1(const cosim_concat_s32_t *p, const void *a, void *out)
{
    const void *ins[1];
    ins[0] = a;
    concat(p, ins, out);
}

void cosim_concat_s32_2(const cosim_concat_s32_t *p, const void *a, const void *b, void *out)
{
    const void *ins[2];
    ins[0] = a;
    ins[1] = b;
    concat(p, ins, out);
}

void cosim_concat_s32_3(const cosim_concat_s32_t *p, const void *a, const void *b, const void *c, void *out)
{
    const void *ins[3];
    ins[0] = a;
    ins[1] = b;
    ins[2] = c;
    concat(p, ins, out);
}

void cosim_concat_s32_4(const cosim_concat_s32_t *p, const void *a, const void *b, const void *c, const void *d,
                        void *out)
{
    const void *ins[4];
    ins[0] = a;
    ins[1] = b;
    ins[2] = c;
    ins[3] = d;
    concat(p, ins, out);
}

void cosim_concat_s32_5(const cosim_concat_s32_t *p, const void *a, const void *b, const void *c, const void *d,
                        const void *e, void *out)
{
    const void *ins[5];
    ins[0] = a;
    ins[1] = b;
    ins[2] = c;
    ins[3] = d;
    ins[4] = e;
    concat(p, ins, out);
}

void cosim_concat_s32_6(const cosim_concat_s32_t *p, const void *a, const void *b, const void *c, const void *d,
                        const void *e, const void *f, void *out)
{
    const void *ins[6];
    ins[0] = a;
    ins[1] = b;
    ins[2] = c;
    ins[3] = d;
    ins[4] = e;
    ins[5] = f;
    concat(p, ins, out);
}
