/* RSQRT int8 (TFLM's RsqrtEvalQuantized). An input below the zero point (TFLM stops the invoke) is taken as 1. */
#include "ops/rsqrt.h"

#include <stddef.h>

#include "fixedpoint.h"
#include "fixedpoint_ext.h"

void cosim_rsqrt_s8(const cosim_rsqrt_t *p, const int8_t *in, int8_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t v = in[i] - p->in_zp;
        int32_t mult, shift, data;
        if (v == 0) {
            out[i] = 127;
            continue;
        }
        cosim_inv_sqrt(v, &mult, &shift);
        data = cosim_mbqm(1, mult, shift + 20); /* 1/sqrt(v) with 20 fractional bits */
        out[i] = (int8_t)cosim_clamp(cosim_mbqm(data, p->out_mult, p->out_shift - 20) + p->out_zp, -128, 127);
    }
}
