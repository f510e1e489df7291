/* CUSTOM:SignalRfft int16 (TFLM's Signal library): kissfft v130's 16-bit fixed-point real FFT of each frame,
 * zero-padded to fft_length; fft_length / 2 + 1 complex int16 bins (re, im) out per frame. The twiddles and the
 * factorization of fft_length / 2 (radices 2, 3, 4 and 5 only) are computed at compile time. */
#ifndef COSIM_NN_OPS_SIGNAL_RFFT_H
#define COSIM_NN_OPS_SIGNAL_RFFT_H
#include <stdint.h>

typedef struct {
    int32_t fft_length;
    int32_t input_length; /* samples per frame */
    int32_t frames;
    int32_t output_length;         /* complex bins per output frame */
    const int32_t *factors;        /* (radix, remaining length) pairs, kissfft's kf_factor order */
    const int16_t *twiddles;       /* fft_length / 2 complex (re, im) */
    const int16_t *super_twiddles; /* fft_length / 4 complex */
} cosim_signal_rfft_t;

/* scratch: 4 * fft_length bytes (the padded frame, then the half-length complex transform) */
void cosim_signal_rfft(const cosim_signal_rfft_t *p, const int16_t *in, int16_t *out, void *scratch);

#endif
