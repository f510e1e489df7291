/* CUSTOM:SignalFftAutoScale (TFLM's Signal library), in two calls: the scale bits (16 - bit_length(running int16
 * maximum magnitude) - 1, at least 0) and the input times 2^scale_bits, truncated to int16. */
#ifndef COSIM_NN_OPS_SIGNAL_FFT_AUTO_SCALE_H
#define COSIM_NN_OPS_SIGNAL_FFT_AUTO_SCALE_H
#include <stdint.h>

typedef struct {
    int32_t size;
} cosim_signal_fft_auto_scale_t;

void cosim_signal_fft_auto_scale_bits(const cosim_signal_fft_auto_scale_t *p, const int16_t *in, int32_t *bits);
void cosim_signal_fft_auto_scale(const cosim_signal_fft_auto_scale_t *p, const int16_t *in, const int32_t *bits,
                                 int16_t *out);

#endif
