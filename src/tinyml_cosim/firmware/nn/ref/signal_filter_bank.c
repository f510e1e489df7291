/* CUSTOM:SignalFilterBank, as TFLM's Signal library computes it. */
#include "ops/signal_filter_bank.h"

void cosim_signal_filter_bank(const cosim_signal_filter_bank_t *p, const uint32_t *in, uint64_t *out)
{
    uint64_t carried = 0; /* the unweighted energy of the previous band */
    int32_t i, j;
    for (i = 0; i <= p->num_channels; ++i) {
        const int32_t f = p->channel_frequency_starts[i], w = p->channel_weight_starts[i];
        uint64_t weighted = 0, unweighted = 0;
        for (j = 0; j < p->channel_widths[i]; ++j) {
            /* an int16 weight widened to uint64 (modulo 2^64 when negative), as TFLM's expression converts it */
            weighted += (uint64_t)(int64_t)p->weights[w + j] * in[f + j];
            unweighted += (uint64_t)(int64_t)p->unweights[w + j] * in[f + j];
        }
        if (i > 0) {
            out[i - 1] = carried + weighted;
        }
        carried = unweighted;
    }
}
