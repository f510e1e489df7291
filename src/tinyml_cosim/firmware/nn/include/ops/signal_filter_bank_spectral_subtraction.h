/* CUSTOM:SignalFilterBankSpectralSubtraction (TFLM's Signal library): each uint32 channel less its running noise
 * estimate (the state, updated in place), at least min_signal_remaining of the channel. */
#ifndef COSIM_NN_OPS_SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION_H
#define COSIM_NN_OPS_SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION_H
#include <stdint.h>

typedef struct {
    int32_t num_channels;
    int32_t smoothing; /* the coefficients: TFLM's uint32 config fields, as their int32 bits */
    int32_t one_minus_smoothing;
    int32_t alternate_smoothing; /* odd channels */
    int32_t alternate_one_minus_smoothing;
    int32_t min_signal_remaining;
    int32_t smoothing_bits;            /* 0..31 */
    int32_t spectral_subtraction_bits; /* 0..63 */
    int32_t clamping;                  /* 0 / 1 */
} cosim_signal_spectral_subtraction_t;

void cosim_signal_spectral_subtraction(const cosim_signal_spectral_subtraction_t *p, const uint32_t *in,
                                       uint32_t *noise, uint32_t *out);

#endif
