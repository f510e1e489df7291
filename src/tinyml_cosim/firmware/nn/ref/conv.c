/* CONV_2D and DEPTHWISE_CONV_2D, int8 per-channel: the arithmetic of TFLM's reference ConvPerChannel and
 * DepthwiseConvPerChannel. Out-of-image taps are skipped (which is why the compiler folds the input zero point into
 * the bias only when no tap can fall outside the image). */
#include "cosim_nn.h"
#include "fixedpoint.h"

void cosim_conv2d_s8(const cosim_conv_t *p, const int8_t *input, int8_t *output)
{
    int32_t oy, ox, oc, ky, kx, ic;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_h;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_w;
            for (oc = 0; oc < p->out_c; ++oc) {
                int32_t acc = 0;
                const int8_t *filt = p->filter + (size_t)oc * p->k_h * p->k_w * p->in_c;
                for (ky = 0; ky < p->k_h; ++ky) {
                    const int32_t in_y = in_y0 + ky * p->dil_h;
                    if (in_y < 0 || in_y >= p->in_h) continue;
                    for (kx = 0; kx < p->k_w; ++kx) {
                        const int32_t in_x = in_x0 + kx * p->dil_w;
                        const int8_t *in_px;
                        const int8_t *f_px;
                        if (in_x < 0 || in_x >= p->in_w) continue;
                        in_px = input + ((size_t)in_y * p->in_w + in_x) * p->in_c;
                        f_px = filt + ((size_t)ky * p->k_w + kx) * p->in_c;
                        for (ic = 0; ic < p->in_c; ++ic) {
                            acc += (int32_t)f_px[ic] * ((int32_t)in_px[ic] + p->input_offset);
                        }
                    }
                }
                if (p->bias) acc += p->bias[oc];
                acc = cosim_mbqm(acc, p->multiplier[oc], p->shift[oc]);
                acc += p->output_offset;
                output[((size_t)oy * p->out_w + ox) * p->out_c + oc] = (int8_t)cosim_clamp(acc, p->act_min, p->act_max);
            }
        }
    }
}

void cosim_dwconv2d_s8(const cosim_conv_t *p, const int8_t *input, int8_t *output)
{
    int32_t oy, ox, ic, m, ky, kx;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_h;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_w;
            for (ic = 0; ic < p->in_c; ++ic) {
                for (m = 0; m < p->depth_multiplier; ++m) {
                    const int32_t oc = m + ic * p->depth_multiplier;
                    int32_t acc = 0;
                    for (ky = 0; ky < p->k_h; ++ky) {
                        const int32_t in_y = in_y0 + ky * p->dil_h;
                        if (in_y < 0 || in_y >= p->in_h) continue;
                        for (kx = 0; kx < p->k_w; ++kx) {
                            const int32_t in_x = in_x0 + kx * p->dil_w;
                            int32_t iv, fv;
                            if (in_x < 0 || in_x >= p->in_w) continue;
                            iv = input[((size_t)in_y * p->in_w + in_x) * p->in_c + ic];
                            fv = p->filter[((size_t)ky * p->k_w + kx) * p->out_c + oc];
                            acc += fv * (iv + p->input_offset);
                        }
                    }
                    if (p->bias) acc += p->bias[oc];
                    acc = cosim_mbqm(acc, p->multiplier[oc], p->shift[oc]);
                    acc += p->output_offset;
                    output[((size_t)oy * p->out_w + ox) * p->out_c + oc] =
                        (int8_t)cosim_clamp(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

/* The ref kernels need no scratch: the buffer is ignored. */
void cosim_conv2d_s8_with_scratch(const cosim_conv_t *p, const int8_t *input, int8_t *output, void *scratch,
                                  int32_t scratch_bytes)
{
    (void)scratch;
    (void)scratch_bytes;
    cosim_conv2d_s8(p, input, output);
}

void cosim_dwconv2d_s8_with_scratch(const cosim_conv_t *p, const int8_t *input, int8_t *output, void *scratch,
                                    int32_t scratch_bytes)
{
    (void)scratch;
    (void)scratch_bytes;
    cosim_dwconv2d_s8(p, input, output);
}

int32_t cosim_conv2d_s8_scratch(const cosim_conv_t *p)
{
    (void)p;
    return 0;
}
int32_t cosim_dwconv2d_s8_scratch(const cosim_conv_t *p)
{
    (void)p;
    return 0;
}

const char *cosim_nn_impl(void) { return "ref"; }
uint32_t cosim_nn_fallback_count(void) { return 0; }
