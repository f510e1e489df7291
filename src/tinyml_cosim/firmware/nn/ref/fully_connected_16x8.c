/* FULLY_CONNECTED 16x8: TFLM's reference int16 fully connected. The exact dot product of a row (at most 2^24 per
 * term: no int64 overflow) goes through the 16x8 requantization of ops/conv_16x8.h, which wraps it as TFLM's
 * accumulator type does. */
#include "ops/fully_connected_16x8.h"

#include <stddef.h>

#include "fixedpoint.h"
#include "ops/conv_16x8.h"

void cosim_fc_16x8(const cosim_fc_16x8_t *p, const int16_t *in, int16_t *out)
{
    int32_t b, o, d;
    for (b = 0; b < p->batches; ++b) {
        const int16_t *row = in + (size_t)b * (size_t)p->in_depth;
        for (o = 0; o < p->out_depth; ++o) {
            const int8_t *w = p->filter + (size_t)o * (size_t)p->in_depth;
            int64_t sum = 0;
            int32_t v;
            for (d = 0; d < p->in_depth; ++d) sum += (int32_t)w[d] * ((int32_t)row[d] + p->input_offset);
            v = cosim_requant_16x8(sum, p->bias, p->bias32, p->acc32, o, p->multiplier[o], p->shift[o]);
            *out++ = (int16_t)cosim_clamp(cosim_add_wrap(v, p->output_offset), p->act_min, p->act_max);
        }
    }
}
