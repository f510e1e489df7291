/* Fixed-point log-mel features: see kws_features.h and sim/features/audio.py (the same operations, in order). */
#include "kws_features.h"

#include "cosim_dsp.h"

int kws_mel_energies(const uint64_t *power, uint64_t *mel)
{
    for (uint32_t m = 0; m < KWS_N_MEL; m++) {
        const uint64_t *p = power + kws_mel_first[m];
        const uint16_t *w = kws_mel_weights + kws_mel_offset[m];
        uint64_t acc = 0;
        /* power >> 12 keeps the sum below 2^63 for any int16 frame (Parseval: sum of power <= 2^60) */
        for (uint32_t j = 0; j < kws_mel_count[m]; j++) acc += (p[j] >> KWS_POWER_SHIFT) * w[j];
        mel[m] = acc;
    }
    return 0;
}

int kws_frame_features(const int16_t *frame, int8_t *out, kws_feature_scratch_t *s)
{
    if (cosim_rfft_power_q15(frame, cosim_hann_q15(KWS_LOG2_FRAME), KWS_LOG2_FRAME, s->work, s->power) != 0) return -1;
    uint64_t mel[KWS_N_MEL];
    kws_mel_energies(s->power, mel);
    for (uint32_t m = 0; m < KWS_N_MEL; m++) {
        int32_t log = mel[m] ? cosim_log2_q16(mel[m]) : 0;
        /* (log - offset) * 6 < 2^26: no overflow; >> of a negative value is arithmetic (floor) in GCC, as in numpy */
        int32_t q = (((log - KWS_LOG_OFFSET_Q16) * KWS_LOG_MUL) >> 16) - 128;
        out[m] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
    }
    return 0;
}
