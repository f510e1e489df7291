/* L2_NORMALIZATION int8 (TFLM's reference integer L2Normalization). */
#include "ops/l2_normalization.h"

#include <stddef.h>

#include "fixedpoint.h"
#include "fixedpoint_ext.h"

void cosim_l2norm_s8(const cosim_l2norm_t *p, const int8_t *in, int8_t *out)
{
    const size_t depth = (size_t)p->depth;
    int32_t r;
    for (r = 0; r < p->outer; ++r) {
        const int8_t *row = in + (size_t)r * depth;
        int32_t acc = 0, mult, shift;
        size_t c;
        for (c = 0; c < depth; ++c) {
            const int32_t v = row[c] - p->in_zp;
            acc += v * v; /* the compiler bounds depth * 255^2 below 2^31 */
        }
        cosim_inv_sqrt(acc, &mult, &shift);
        for (c = 0; c < depth; ++c) {
            const int32_t v = cosim_mbqm(row[c] - p->in_zp, mult, shift + 7); /* output unit 1/128 */
            out[(size_t)r * depth + c] = (int8_t)cosim_clamp(v, -128, 127);
        }
    }
}
