/* AVERAGE_POOL_2D and MAX_POOL_2D int16: TFLM's reference integer pooling for int16. */
#include "ops/pool_16x8.h"

#include <stddef.h>

#include "fixedpoint.h"

static void pool(const cosim_pool_16x8_t *p, const int16_t *in, int16_t *out, int average)
{
    int32_t b, oy, ox, c, y, x;
    for (b = 0; b < p->batches; ++b) {
        const int16_t *img = in + (size_t)b * (size_t)p->in_h * (size_t)p->in_w * (size_t)p->channels;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            const int32_t ys = y0 < 0 ? 0 : y0;
            const int32_t ye = y0 + p->k_h < p->in_h ? y0 + p->k_h : p->in_h;
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                const int32_t xs = x0 < 0 ? 0 : x0;
                const int32_t xe = x0 + p->k_w < p->in_w ? x0 + p->k_w : p->in_w;
                for (c = 0; c < p->channels; ++c) {
                    int32_t acc = average ? 0 : -32768;
                    int32_t count = 0;
                    for (y = ys; y < ye; ++y) {
                        for (x = xs; x < xe; ++x) {
                            const int32_t v = img[((size_t)y * p->in_w + x) * p->channels + c];
                            if (average) acc += v;
                            else if (v > acc) acc = v;
                            ++count;
                        }
                    }
                    if (average) {
                        /* half away from zero, C's truncating division; an empty window (no padding makes one) 0 */
                        acc = count == 0 ? 0 : (acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count);
                    }
                    *out++ = (int16_t)cosim_clamp(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

void cosim_avgpool_16x8(const cosim_pool_16x8_t *p, const int16_t *in, int16_t *out) { pool(p, in, out, 1); }

void cosim_maxpool_16x8(const cosim_pool_16x8_t *p, const int16_t *in, int16_t *out) { pool(p, in, out, 0); }
