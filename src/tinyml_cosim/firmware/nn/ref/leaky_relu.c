/* LEAKY_RELU int8 and int16, as TFLM's reference kernel (one template over the type: only the clamp differs). */
#include "ops/leaky_relu.h"

#include "fixedpoint.h"

static int32_t leaky_one(const cosim_leaky_relu_t *p, int32_t x)
{
    /* a negative alpha: multiply by |multiplier| and negate, since the rounding multiply needs a non-negative one */
    const int32_t v = x - p->input_zp;
    if (v >= 0) {
        return p->output_zp + cosim_mbqm(v, p->identity_mult, p->identity_shift);
    }
    if (p->alpha_mult < 0) {
        return p->output_zp - cosim_mbqm(v, -p->alpha_mult, p->alpha_shift);
    }
    return p->output_zp + cosim_mbqm(v, p->alpha_mult, p->alpha_shift);
}

void cosim_leaky_relu_s8(const cosim_leaky_relu_t *p, const int8_t *input, int8_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        output[i] = (int8_t)cosim_clamp(leaky_one(p, input[i]), -128, 127);
    }
}

void cosim_leaky_relu_s16(const cosim_leaky_relu_t *p, const int16_t *input, int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        output[i] = (int16_t)cosim_clamp(leaky_one(p, input[i]), -32768, 32767);
    }
}
