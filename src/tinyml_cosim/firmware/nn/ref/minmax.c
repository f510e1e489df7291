/* MAXIMUM / MINIMUM int8 with broadcasting, as TFLM's reference kernels. */
#include <stddef.h>

#include "ops/minmax.h"

static void minmax(const cosim_minmax_t *p, const int8_t *in1, const int8_t *in2, int8_t *out, int is_max)
{
    int32_t i0, i1, i2, i3;
    size_t o = 0;
    for (i0 = 0; i0 < p->out_shape[0]; ++i0) {
        for (i1 = 0; i1 < p->out_shape[1]; ++i1) {
            for (i2 = 0; i2 < p->out_shape[2]; ++i2) {
                const size_t a_base =
                    (size_t)i0 * p->in1_strides[0] + (size_t)i1 * p->in1_strides[1] + (size_t)i2 * p->in1_strides[2];
                const size_t b_base =
                    (size_t)i0 * p->in2_strides[0] + (size_t)i1 * p->in2_strides[1] + (size_t)i2 * p->in2_strides[2];
                for (i3 = 0; i3 < p->out_shape[3]; ++i3) {
                    const int8_t a = in1[a_base + (size_t)i3 * p->in1_strides[3]];
                    const int8_t b = in2[b_base + (size_t)i3 * p->in2_strides[3]];
                    out[o++] = is_max ? (a > b ? a : b) : (a < b ? a : b);
                }
            }
        }
    }
}

void cosim_maximum_s8(const cosim_minmax_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    minmax(p, input1, input2, output, 1);
}

void cosim_minimum_s8(const cosim_minmax_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    minmax(p, input1, input2, output, 0);
}
