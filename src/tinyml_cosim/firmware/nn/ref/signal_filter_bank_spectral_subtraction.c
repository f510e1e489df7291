/* CUSTOM:SignalFilterBankSpectralSubtraction, as TFLM's Signal library computes it. */
#include "ops/signal_filter_bank_spectral_subtraction.h"

void cosim_signal_spectral_subtraction(const cosim_signal_spectral_subtraction_t *p, const uint32_t *in,
                                       uint32_t *noise, uint32_t *out)
{
    const uint32_t bits = (uint32_t)p->smoothing_bits, sub_bits = (uint32_t)p->spectral_subtraction_bits;
    int32_t i;
    for (i = 0; i < p->num_channels; ++i) {
        /* even channels take the main coefficients, odd ones the alternate pair */
        const uint32_t smoothing = (uint32_t)((i & 1) ? p->alternate_smoothing : p->smoothing);
        const uint32_t one_minus = (uint32_t)((i & 1) ? p->alternate_one_minus_smoothing : p->one_minus_smoothing);
        const uint32_t scaled = in[i] << bits; /* uint32: wraps as TFLM's */
        uint32_t estimate, floor, subtracted;
        noise[i] = (uint32_t)(((uint64_t)scaled * smoothing + (uint64_t)noise[i] * one_minus) >> sub_bits);
        estimate = noise[i];
        if (estimate > scaled) {
            estimate = scaled;
            if (p->clamping) {
                noise[i] = estimate;
            }
        }
        floor = (uint32_t)(((uint64_t)in[i] * (uint32_t)p->min_signal_remaining) >> sub_bits);
        subtracted = (scaled - estimate) >> bits;
        out[i] = subtracted > floor ? subtracted : floor;
    }
}
