/* CUSTOM:SignalFilterBank (TFLM's Signal library): uint64 channel sums of a uint32 spectrum through int16 weight /
 * unweight tables; channel i = weighted band i + 1 + unweighted band i (uint64 arithmetic, wrapping). */
#ifndef COSIM_NN_OPS_SIGNAL_FILTER_BANK_H
#define COSIM_NN_OPS_SIGNAL_FILTER_BANK_H
#include <stdint.h>

typedef struct {
    int32_t num_channels;
    const int16_t *weights;
    const int16_t *unweights;
    const int16_t *channel_frequency_starts; /* each table below: num_channels + 1 entries */
    const int16_t *channel_weight_starts;
    const int16_t *channel_widths;
} cosim_signal_filter_bank_t;

void cosim_signal_filter_bank(const cosim_signal_filter_bank_t *p, const uint32_t *in, uint64_t *out);

#endif
