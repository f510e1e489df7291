/* Log-mel features of the keyword spotter, in fixed point (integer arithmetic only, bit-exact with the host
 * reference sim/features/audio.py): Hann-windowed FFT power (firmware/dsp), triangular mel filters in Q15, log2 in
 * Q16.16, mapped to the int8 the model takes as it is. The steps and their scaling: sim/features/audio.py. */
#ifndef KWS_FEATURES_H
#define KWS_FEATURES_H
#include <stdint.h>

#include "kws_mel_tables.h"

/* Scratch one call needs; the caller owns it (no static state, so the host test can call it on any frame). */
typedef struct {
    int32_t work[2u * KWS_FRAME_LEN];
    uint64_t power[KWS_N_BINS];
} kws_feature_scratch_t;

/* One frame of KWS_FRAME_LEN int16 samples -> KWS_N_MEL int8 log-mel values. Returns 0, or -1 on a DSP error. */
int kws_frame_features(const int16_t *frame, int8_t *out, kws_feature_scratch_t *scratch);

/* The mel energies (before the log) of the last call's frame, for tests: Q33 LSB^2 as documented in audio.py. */
int kws_mel_energies(const uint64_t *power, uint64_t *mel);

#endif
