/* SELECT_V2 int8 with a 4-D broadcast of three operands (broadcast4d.h walks two: the condition is the third). */
#include "ops/select_v2.h"

#include <stddef.h>

static size_t at(const int32_t *strides, int32_t i0, int32_t i1, int32_t i2, int32_t i3)
{
    return (size_t)i0 * (size_t)strides[0] + (size_t)i1 * (size_t)strides[1] + (size_t)i2 * (size_t)strides[2] +
           (size_t)i3 * (size_t)strides[3];
}

void cosim_select_v2_s8(const cosim_select_v2_t *p, const uint8_t *cond, const int8_t *x, const int8_t *y, int8_t *out)
{
    const int32_t *shape = p->out_shape;
    int32_t i0, i1, i2, i3;
    size_t o = 0;
    for (i0 = 0; i0 < shape[0]; ++i0) {
        for (i1 = 0; i1 < shape[1]; ++i1) {
            for (i2 = 0; i2 < shape[2]; ++i2) {
                for (i3 = 0; i3 < shape[3]; ++i3) {
                    const int pick_x = cond[at(p->cond_strides, i0, i1, i2, i3)] != 0;
                    out[o++] = pick_x ? x[at(p->x_strides, i0, i1, i2, i3)] : y[at(p->y_strides, i0, i1, i2, i3)];
                }
            }
        }
    }
}
