/* STRIDED_SLICE int8 and int16 over up to five dimensions, signed steps (a negative stride walks backwards). */
#include "ops/strided_slice.h"

/* One walk for both element sizes (TFLM's kernel is one template over the type). */
#define COSIM_STRIDED_SLICE_WALK(in, out)                                                       \
    do {                                                                                        \
        const int32_t *n = p->out_shape;                                                        \
        const int32_t *s = p->steps;                                                            \
        int32_t i0, i1, i2, i3, i4;                                                             \
        int32_t o = 0;                                                                          \
        for (i0 = 0; i0 < n[0]; ++i0) {                                                         \
            for (i1 = 0; i1 < n[1]; ++i1) {                                                     \
                for (i2 = 0; i2 < n[2]; ++i2) {                                                 \
                    for (i3 = 0; i3 < n[3]; ++i3) {                                             \
                        int32_t at = p->offset + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3]; \
                        for (i4 = 0; i4 < n[4]; ++i4) {                                         \
                            (out)[o++] = (in)[at];                                              \
                            at += s[4];                                                         \
                        }                                                                       \
                    }                                                                           \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
    } while (0)

void cosim_strided_slice_s8(const cosim_strided_slice_t *p, const int8_t *in, int8_t *out)
{
    COSIM_STRIDED_SLICE_WALK(in, out);
}

void cosim_strided_slice_s16(const cosim_strided_slice_t *p, const int16_t *in, int16_t *out)
{
    COSIM_STRIDED_SLICE_WALK(in, out);
}
