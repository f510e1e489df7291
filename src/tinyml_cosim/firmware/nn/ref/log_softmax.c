/* LOG_SOFTMAX int8 (TFLM's reference LogSoftmaxQuantized). Raw int32 values; "F<n>" has n integer bits. */
#include "ops/log_softmax.h"

#include <stddef.h>

#include "fixedpoint.h"
#include "fixedpoint_ext.h"

static void log_softmax_row(const cosim_log_softmax_t *p, const int8_t *in, int8_t *out)
{
    const size_t depth = (size_t)p->depth;
    int32_t max_in_row = -128, sum_of_exps = 0; /* F12 */
    int32_t log_sum, adjusted_diff_min, limit;
    size_t c;
    for (c = 0; c < depth; ++c) {
        if (in[c] > max_in_row) max_in_row = in[c];
    }
    for (c = 0; c < depth; ++c) {
        const int32_t diff = (int32_t)in[c] - max_in_row;
        if (diff >= p->diff_min) {
            const int32_t scaled = cosim_mbqm(diff, p->input_multiplier, p->input_left_shift); /* F5 */
            sum_of_exps = cosim_add_wrap(sum_of_exps, cosim_rdbpot(cosim_exp_on_negative_values(scaled, 5), 12));
        }
    }
    log_sum = cosim_log_x_ge_1(sum_of_exps, 12, 5); /* F5 */
    limit = cosim_mbqm(cosim_add_wrap(log_sum, COSIM_INT32_MIN), p->reverse_divisor, p->reverse_shift);
    adjusted_diff_min = p->diff_min - 1 > limit ? p->diff_min - 1 : limit;
    for (c = 0; c < depth; ++c) {
        const int32_t diff = (int32_t)in[c] - max_in_row;
        if (diff > adjusted_diff_min) { /* > here where the sum used >= */
            const int32_t scaled = cosim_mbqm(diff, p->input_multiplier, p->input_left_shift);
            const int32_t v = cosim_rdbpot(cosim_sub_wrap(scaled, log_sum), 31 - 5 - 4) + 127;
            out[c] = (int8_t)cosim_clamp(v, -128, 127);
        } else {
            out[c] = -128;
        }
    }
}

void cosim_log_softmax_s8(const cosim_log_softmax_t *p, const int8_t *in, int8_t *out)
{
    int32_t r;
    for (r = 0; r < p->outer; ++r) {
        log_softmax_row(p, in + (size_t)r * (size_t)p->depth, out + (size_t)r * (size_t)p->depth);
    }
}
