/* AVERAGE_POOL_2D and MAX_POOL_2D int8: windows clipped to the image, the average rounded half away from zero on the
 * raw int8 values (TFLM's reference; input and output share quantization). */
#include "cosim_nn.h"
#include "fixedpoint.h"

static void pool(const cosim_pool_t *p, const int8_t *input, int8_t *output, int is_max)
{
    int32_t oy, ox, c, y, x;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        const int32_t ys = y0 < 0 ? 0 : y0;
        const int32_t ye = (y0 + p->k_h) < p->in_h ? (y0 + p->k_h) : p->in_h;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            const int32_t xs = x0 < 0 ? 0 : x0;
            const int32_t xe = (x0 + p->k_w) < p->in_w ? (x0 + p->k_w) : p->in_w;
            for (c = 0; c < p->channels; ++c) {
                int32_t acc = is_max ? -128 : 0;
                int32_t count = 0;
                for (y = ys; y < ye; ++y) {
                    for (x = xs; x < xe; ++x) {
                        const int32_t v = input[((size_t)y * p->in_w + x) * p->channels + c];
                        if (is_max) {
                            if (v > acc) acc = v;
                        } else {
                            acc += v;
                        }
                        ++count;
                    }
                }
                if (!is_max) {
                    if (count == 0) {
                        acc = 0;
                    } else {
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    }
                }
                output[((size_t)oy * p->out_w + ox) * p->channels + c] =
                    (int8_t)cosim_clamp(acc, p->act_min, p->act_max);
            }
        }
    }
}

void cosim_avgpool_s8(const cosim_pool_t *p, const int8_t *input, int8_t *output) { pool(p, input, output, 0); }
void cosim_maxpool_s8(const cosim_pool_t *p, const int8_t *input, int8_t *output) { pool(p, input, output, 1); }

void cosim_avgpool_s8_with_scratch(const cosim_pool_t *p, const int8_t *input, int8_t *output, void *scratch,
                                   int32_t scratch_bytes)
{
    (void)scratch;
    (void)scratch_bytes;
    cosim_avgpool_s8(p, input, output);
}

int32_t cosim_avgpool_s8_scratch(const cosim_pool_t *p)
{
    (void)p;
    return 0;
}
