/* ARG_MAX / ARG_MIN (int8 in, int32 out): a strict comparison keeps the first index of a tie, as TFLM does. */
#include "ops/arg_min_max.h"

void cosim_arg_min_max_s8(const cosim_arg_min_max_t *p, const int8_t *in, int32_t *out)
{
    for (int32_t o = 0; o < p->outer; o++) {
        const int8_t *base = in + (int32_t)(o * p->axis_size * p->inner);
        for (int32_t i = 0; i < p->inner; i++) {
            int32_t best = 0;
            int8_t best_v = base[i];
            for (int32_t a = 1; a < p->axis_size; a++) {
                const int8_t v = base[a * p->inner + i];
                if (p->is_max ? v > best_v : v < best_v) {
                    best_v = v;
                    best = a;
                }
            }
            out[o * p->inner + i] = best;
        }
    }
}
