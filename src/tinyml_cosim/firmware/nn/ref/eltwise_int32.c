/* Element-wise int32 arithmetic, as TFLM's reference kernels compute it (unsigned arithmetic for the wraps C leaves
 * undefined on signed values). */
#include "ops/eltwise_int32.h"

static int32_t apply(int32_t op, int32_t a, int32_t b)
{
    switch (op) {
    case 0: return (int32_t)((uint32_t)a + (uint32_t)b);
    case 1: return (int32_t)((uint32_t)a - (uint32_t)b);
    case 2: return (int32_t)((uint32_t)a * (uint32_t)b);
    case 3: return b == -1 ? (int32_t)(0u - (uint32_t)a) : a / b; /* the lowering refuses 0 divisors */
    case 4: return a > b ? a : b;
    default: return a < b ? a : b;
    }
}

void cosim_eltwise_s32(const cosim_eltwise_s32_t *p, const void *in1, const void *in2, void *out)
{
    const int32_t *a = (const int32_t *)in1, *b = (const int32_t *)in2, *n = p->out_shape;
    const int32_t *s1 = p->in1_strides, *s2 = p->in2_strides;
    int32_t *y = (int32_t *)out;
    int32_t i0, i1, i2, i3, o = 0;
    for (i0 = 0; i0 < n[0]; ++i0) {
        for (i1 = 0; i1 < n[1]; ++i1) {
            for (i2 = 0; i2 < n[2]; ++i2) {
                for (i3 = 0; i3 < n[3]; ++i3) {
                    const int32_t v = apply(p->op, a[i0 * s1[0] + i1 * s1[1] + i2 * s1[2] + i3 * s1[3]],
                                            b[i0 * s2[0] + i1 * s2[1] + i2 * s2[2] + i3 * s2[3]]);
                    y[o++] = v < p->act_min ? p->act_min : v > p->act_max ? p->act_max : v;
                }
            }
        }
    }
}
