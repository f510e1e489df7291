/* Standalone RELU and RELU6 int8, as TFLM's reference kernels. */
#include "ops/relu.h"

#include "fixedpoint.h"

void cosim_relu_s8(const cosim_relu_t *p, const int8_t *in, int8_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t raw = p->output_zp + cosim_mbqm((int32_t)in[i] - p->input_zp, p->multiplier, p->shift);
        out[i] = (int8_t)cosim_clamp(raw, p->act_min, p->act_max);
    }
}

void cosim_relu6_s8(const cosim_relu6_t *p, const int8_t *in, int8_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t v = in[i];
        /* the upper bound is tested first, as in TFLM */
        out[i] = (int8_t)(v > p->hi ? p->hi : (v < p->lo ? p->lo : v));
    }
}
