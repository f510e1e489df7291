/* CONCATENATION and the model-boundary QUANTIZE / DEQUANTIZE. Float appears only in the two
 * boundary conversions, exactly where TFLM computes in float too. */
#include <math.h>
#include <string.h>

#include "cosim_nn.h"
#include "fixedpoint.h"

void cosim_concat_s8(const cosim_concat_t *p, const int8_t *const *inputs, int8_t *output)
{
    int32_t o, k;
    for (o = 0; o < p->outer; ++o) {
        for (k = 0; k < p->n_inputs; ++k) {
            const size_t n = (size_t)p->copy_sizes[k];
            memcpy(output, inputs[k] + (size_t)o * n, n);
            output += n;
        }
    }
}

void cosim_quantize_f32_s8(const cosim_quantize_t *p, const float *input, int8_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        /* float division, then std::round (half away from zero), as TFLM's AffineQuantize */
        const float q = input[i] / p->scale;
        const int32_t v = (int32_t)roundf(q) + p->zero_point;
        output[i] = (int8_t)cosim_clamp(v, -128, 127);
    }
}

void cosim_dequantize_s8_f32(const cosim_dequantize_t *p, const int8_t *input, float *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) output[i] = (float)(p->scale * (double)((int32_t)input[i] - p->zero_point));
}

void cosim_requantize_s8(const cosim_requantize_t *p, const int8_t *input, int8_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t v = cosim_mbqm((int32_t)input[i] - p->input_zp, p->multiplier, p->shift) + p->output_zp;
        output[i] = (int8_t)cosim_clamp(v, -128, 127);
    }
}
