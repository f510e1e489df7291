/* MEAN int8: per (outer, inner) position the sum of (x - zp_in) over the reduced axis, requantized. */
#include "ops/mean.h"

#include <stddef.h>

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
