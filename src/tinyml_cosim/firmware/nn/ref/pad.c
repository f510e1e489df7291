/* PAD / PADV2 int8 and int16 up to 4-D. */
#include "ops/pad.h"

#include <stddef.h>

/* One walk for both element sizes (TFLM's kernel is one template over the type). */
#define COSIM_PAD_WALK(input, output, type)                                                                      \
    do {                                                                                                         \
        int32_t a, b, c, d;                                                                                      \
        const int32_t *is = p->in_shape;                                                                         \
        const int32_t *os = p->out_shape;                                                                        \
        const int32_t *pb = p->pad_before;                                                                       \
        size_t o = 0;                                                                                            \
        for (a = 0; a < os[0]; ++a) {                                                                            \
            for (b = 0; b < os[1]; ++b) {                                                                        \
                for (c = 0; c < os[2]; ++c) {                                                                    \
                    for (d = 0; d < os[3]; ++d) {                                                                \
                        const int32_t ia = a - pb[0], ib = b - pb[1], ic = c - pb[2], id = d - pb[3];            \
                        if (ia < 0 || ia >= is[0] || ib < 0 || ib >= is[1] || ic < 0 || ic >= is[2] || id < 0 || \
                            id >= is[3]) {                                                                       \
                            (output)[o++] = (type)p->pad_value;                                                  \
                        } else {                                                                                 \
                            (output)[o++] = (input)[(((size_t)ia * is[1] + ib) * is[2] + ic) * is[3] + id];      \
                        }                                                                                        \
                    }                                                                                            \
                }                                                                                                \
            }                                                                                                    \
        }                                                                                                        \
    } while (0)

void cosim_pad_s8(const cosim_pad_t *p, const int8_t *input, int8_t *output) { COSIM_PAD_WALK(input, output, int8_t); }

void cosim_pad_s16(const cosim_pad_t *p, const int16_t *input, int16_t *output)
{
    COSIM_PAD_WALK(input, output, int16_t);
}
