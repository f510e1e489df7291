/* LOGISTIC and TANH int16, as TFLM's reference integer Logistic / Tanh for int16. */
#include "ops/activations_16.h"

#include "sigmoid16.h"

/* x * multiplier (|.| < 2^30) plus half of 2^shift, arithmetic shift right: TFLM's rescaling of the input */
static int32_t scaled(const cosim_sigmoid_16_t *p, int16_t x)
{
    const int32_t shift = p->input_left_shift;
    const int32_t round = shift > 0 ? (int32_t)1 << (shift - 1) : 0;
    const int32_t v = (int32_t)x * p->input_multiplier + round;
    /* an arithmetic shift of a negative value, written portably: floor division by 2^shift */
    return v >= 0 ? v >> shift : -(int32_t)((~(uint32_t)v) >> shift) - 1;
}

void cosim_logistic_16(const cosim_sigmoid_16_t *p, const int16_t *in, int16_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) out[i] = cosim_sigmoid16_lut(scaled(p, in[i]));
}

void cosim_tanh_16(const cosim_sigmoid_16_t *p, const int16_t *in, int16_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) out[i] = cosim_tanh16_lut(scaled(p, in[i]));
}
