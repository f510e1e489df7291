/* ABS int8, as TFLM's reference kernel. */
#include "ops/abs.h"

#include "fixedpoint.h"

void cosim_abs_s8(const cosim_abs_t *p, const int8_t *in, int8_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t d = (int32_t)in[i] - p->input_zp;
        const int32_t v = d < 0 ? -d : d;
        const int32_t r = p->rescale ? cosim_mbqm(v, p->multiplier, p->shift) : v;
        out[i] = (int8_t)cosim_clamp(r + p->output_zp, -128, 127);
    }
}
