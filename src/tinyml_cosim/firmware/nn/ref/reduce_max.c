/* REDUCE_MAX / REDUCE_MIN int8 (TFLM's ReduceGeneric with max/min, starting from the type's rails). */
#include "ops/reduce_max.h"

#include <stddef.h>

/* The extreme of the bytes under `base` over the reduced dimensions. */
static int32_t reduce_one(const cosim_reduce_minmax_t *p, const int8_t *base, int is_max)
{
    const int32_t *n = p->red_shape;
    const int32_t *s = p->red_strides;
    int32_t acc = is_max ? -128 : 127;
    int32_t i0, i1, i2, i3, i4;
    for (i0 = 0; i0 < n[0]; ++i0) {
        for (i1 = 0; i1 < n[1]; ++i1) {
            for (i2 = 0; i2 < n[2]; ++i2) {
                for (i3 = 0; i3 < n[3]; ++i3) {
                    const int8_t *row = base + (size_t)i0 * (size_t)s[0] + (size_t)i1 * (size_t)s[1] +
                                        (size_t)i2 * (size_t)s[2] + (size_t)i3 * (size_t)s[3];
                    for (i4 = 0; i4 < n[4]; ++i4) {
                        const int32_t v = row[(size_t)i4 * (size_t)s[4]];
                        acc = is_max ? (v > acc ? v : acc) : (v < acc ? v : acc);
                    }
                }
            }
        }
    }
    return acc;
}

static void reduce(const cosim_reduce_minmax_t *p, const int8_t *in, int8_t *out, int is_max)
{
    const int32_t *n = p->keep_shape;
    const int32_t *s = p->keep_strides;
    int32_t i0, i1, i2, i3, i4;
    size_t o = 0;
    for (i0 = 0; i0 < n[0]; ++i0) {
        for (i1 = 0; i1 < n[1]; ++i1) {
            for (i2 = 0; i2 < n[2]; ++i2) {
                for (i3 = 0; i3 < n[3]; ++i3) {
                    const int8_t *row = in + (size_t)i0 * (size_t)s[0] + (size_t)i1 * (size_t)s[1] +
                                        (size_t)i2 * (size_t)s[2] + (size_t)i3 * (size_t)s[3];
                    for (i4 = 0; i4 < n[4]; ++i4) {
                        out[o++] = (int8_t)reduce_one(p, row + (size_t)i4 * (size_t)s[4], is_max);
                    }
                }
            }
        }
    }
}

void cosim_reduce_max_s8(const cosim_reduce_minmax_t *p, const int8_t *in, int8_t *out) { reduce(p, in, out, 1); }
void cosim_reduce_min_s8(const cosim_reduce_minmax_t *p, const int8_t *in, int8_t *out) { reduce(p, in, out, 0); }
