/* MEAN (H, W), CONCATENATION, PAD and the model-boundary QUANTIZE / DEQUANTIZE. Float appears only in the two
 * boundary conversions, exactly where TFLM computes in float too. */
#include <math.h>
#include <string.h>

#include "cosim_nn.h"
#include "fixedpoint.h"

void cosim_mean_s8(const cosim_mean_t *p, const int8_t *input, int8_t *output)
{
    const size_t inner = (size_t)p->inner;
    int32_t o, c, i;
    for (o = 0; o < p->outer; ++o) {
        const int8_t *in = input + (size_t)o * (size_t)p->reduce * inner;
        for (c = 0; c < p->inner; ++c) {
            int32_t acc = 0;
            for (i = 0; i < p->reduce; ++i) acc += (int32_t)in[(size_t)i * inner + (size_t)c] - p->input_zp;
            /* the 1/n of the mean is folded into multiplier and shift by the compiler, as TFLM does */
            acc = cosim_mbqm(acc, p->multiplier, p->shift);
            *output++ = (int8_t)cosim_clamp(acc + p->output_zp, -128, 127);
        }
    }
}

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

void cosim_pad_s8(const cosim_pad_t *p, const int8_t *input, int8_t *output)
{
    int32_t a, b, c, d;
    const int32_t *is = p->in_shape;
    const int32_t *os = p->out_shape;
    const int32_t *pb = p->pad_before;
    size_t o = 0;
    for (a = 0; a < os[0]; ++a) {
        for (b = 0; b < os[1]; ++b) {
            for (c = 0; c < os[2]; ++c) {
                for (d = 0; d < os[3]; ++d) {
                    const int32_t ia = a - pb[0], ib = b - pb[1], ic = c - pb[2], id = d - pb[3];
                    if (ia < 0 || ia >= is[0] || ib < 0 || ib >= is[1] || ic < 0 || ic >= is[2] || id < 0 ||
                        id >= is[3]) {
                        output[o++] = (int8_t)p->pad_value;
                    } else {
                        output[o++] = input[(((size_t)ia * is[1] + ib) * is[2] + ic) * is[3] + id];
                    }
                }
            }
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
