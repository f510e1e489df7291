/* FULLY_CONNECTED int8, per-tensor or per-channel: TFLM's reference integer FullyConnected arithmetic. */
#include "cosim_nn.h"
#include "fixedpoint.h"

void cosim_fc_s8(const cosim_fc_t *p, const int8_t *input, int8_t *output)
{
    int32_t b, o, d;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in = input + (size_t)b * p->in_depth;
        for (o = 0; o < p->out_depth; ++o) {
            const int8_t *w = p->filter + (size_t)o * p->in_depth;
            const int32_t q = p->per_channel ? o : 0;
            int32_t acc = 0;
            for (d = 0; d < p->in_depth; ++d) {
                acc += ((int32_t)w[d] + p->filter_offset) * ((int32_t)in[d] + p->input_offset);
            }
            if (p->bias) acc += p->bias[o];
            acc = cosim_mbqm(acc, p->multiplier[q], p->shift[q]);
            acc += p->output_offset;
            output[(size_t)b * p->out_depth + o] = (int8_t)cosim_clamp(acc, p->act_min, p->act_max);
        }
    }
}

void cosim_fc_s8_with_scratch(const cosim_fc_t *p, const int8_t *input, int8_t *output, void *scratch,
                              int32_t scratch_bytes)
{
    (void)scratch;
    (void)scratch_bytes;
    cosim_fc_s8(p, input, output);
}

int32_t cosim_fc_s8_scratch(const cosim_fc_t *p)
{
    (void)p;
    return 0;
}
