/* RESIZE_BILINEAR int8 (NHWC) from precomputed source indices and 10-bit fractions (TFLM's ResizeBilinearInteger). */
#include "ops/resize_bilinear.h"

#include <stddef.h>

#define ONE ((int64_t)1 << 10)

static int8_t interpolate(int64_t ll, int64_t lu, int64_t rl, int64_t ru, int64_t fy, int64_t fx)
{
    const int64_t total = ll * (ONE - fy) * (ONE - fx) + lu * fy * (ONE - fx) + rl * (ONE - fy) * fx + ru * fy * fx;
    const int64_t round = total > 0 ? ((int64_t)1 << 19) : -((int64_t)1 << 19);
    return (int8_t)((total + round) / ((int64_t)1 << 20)); /* C division truncates, as TFLM's */
}

void cosim_resize_bilinear_s8(const cosim_resize_bilinear_t *p, const int8_t *in, int8_t *out)
{
    const size_t depth = (size_t)p->depth;
    const size_t row = (size_t)p->in_w * depth;
    const size_t batch = (size_t)p->in_h * row;
    int32_t b, y, x;
    size_t o = 0;
    for (b = 0; b < p->batches; ++b) {
        for (y = 0; y < p->out_h; ++y) {
            const int8_t *lo = in + (size_t)b * batch + (size_t)p->y_lo[y] * row;
            const int8_t *hi = in + (size_t)b * batch + (size_t)p->y_hi[y] * row;
            for (x = 0; x < p->out_w; ++x) {
                const size_t x0 = (size_t)p->x_lo[x] * depth;
                const size_t x1 = (size_t)p->x_hi[x] * depth;
                size_t c;
                for (c = 0; c < depth; ++c) {
                    out[o++] = interpolate(lo[x0 + c], hi[x0 + c], lo[x1 + c], hi[x1 + c], p->y_frac[y], p->x_frac[x]);
                }
            }
        }
    }
}
