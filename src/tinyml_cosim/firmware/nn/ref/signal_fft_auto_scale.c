/* CUSTOM:SignalFftAutoScale, as TFLM's Signal library computes it. */
#include "ops/signal_fft_auto_scale.h"

void cosim_signal_fft_auto_scale_bits(const cosim_signal_fft_auto_scale_t *p, const int16_t *in, int32_t *bits)
{
    int16_t top = 0; /* a running int16, as TFLM's: |-32768| wraps to -32768 */
    uint32_t u;
    int32_t i, msb = 0, s;
    for (i = 0; i < p->size; ++i) {
        const int32_t v = in[i];
        if (v > top) {
            top = (int16_t)v;
        } else if (-v > top) {
            top = (int16_t)(uint16_t)(-v);
        }
    }
    u = (uint32_t)(int32_t)top;
    if (u == 0) {
        msb = 32; /* GCC's MostSignificantBit32(0) in TFLM */
    }
    while (u) {
        u >>= 1;
        ++msb;
    }
    s = 16 - msb - 1;
    *bits = s > 0 ? s : 0;
}

void cosim_signal_fft_auto_scale(const cosim_signal_fft_auto_scale_t *p, const int16_t *in, const int32_t *bits,
                                 int16_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        out[i] = (int16_t)(uint16_t)((uint32_t)(int32_t)in[i] << *bits); /* the low 16 bits of in * 2^bits */
    }
}
