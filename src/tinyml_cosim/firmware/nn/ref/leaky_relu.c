/* LEAKY_RELU int8, as TFLM's reference kernel. */
#include "ops/leaky_relu.h"

#include "fixedpoint.h"

void cosim_leaky_relu_s8(const cosim_leaky_relu_t *p, const int8_t *input, int8_t *output)
{
    /* a negative alpha: multiply by |multiplier| and negate, since the rounding multiply needs a non-negative one */
    const int negative = p->alpha_mult < 0;
    const int32_t alpha_mult = negative ? -p->alpha_mult : p->alpha_mult;
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t v = (int32_t)input[i] - p->input_zp;
        int32_t out = p->output_zp;
        if (v >= 0) {
            out += cosim_mbqm(v, p->identity_mult, p->identity_shift);
        } else {
            const int32_t scaled = cosim_mbqm(v, alpha_mult, p->alpha_shift);
            out += negative ? -scaled : scaled;
        }
        output[i] = (int8_t)cosim_clamp(out, -128, 127);
    }
}
