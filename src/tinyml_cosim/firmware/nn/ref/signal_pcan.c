/* CUSTOM:SignalPCAN, as TFLM's Signal library computes it. */
#include "ops/signal_pcan.h"

static int32_t bit_length(uint32_t x)
{
    int32_t n = 0;
    while (x) {
        x >>= 1;
        ++n;
    }
    return n;
}

/* TFLM's WideDynamicFunction: a quadratic over the leading bit's table segment, in int32 (wrapping as GCC does) */
static int16_t wide_dynamic(uint32_t x, const int16_t *lut)
{
    int32_t interval, frac, result;
    if (x <= 2) {
        return lut[x];
    }
    interval = bit_length(x);
    lut += 4 * interval - 6;
    frac = (int32_t)(((interval < 11) ? (x << (11 - interval)) : (x >> (interval - 11))) & 0x3FF);
    result = ((int32_t)lut[2] * frac) >> 5; /* at most 2^15 * 2^10: no overflow; arithmetic shift */
    result = (int32_t)((uint32_t)result + ((uint32_t)lut[1] << 5));
    result = (int32_t)((uint32_t)result * (uint32_t)frac);
    result = (int32_t)((uint32_t)result + (1u << 14));
    result = result >> 15; /* arithmetic, as GCC's */
    result = (int32_t)((uint32_t)result + (uint32_t)(int32_t)lut[0]);
    return (int16_t)(uint16_t)(uint32_t)result;
}

static uint32_t shrink(uint32_t x)
{
    if (x < (2u << 12)) {
        return (x * x) >> (2 + 2 * 12 - 6);
    }
    return (x >> (12 - 6)) - (1u << 6);
}

void cosim_signal_pcan(const cosim_signal_pcan_t *p, const uint32_t *in, const uint32_t *noise, uint32_t *out)
{
    int32_t i;
    for (i = 0; i < p->num_channels; ++i) {
        const uint32_t gain = (uint32_t)(int32_t)wide_dynamic(noise[i], p->gain_lut); /* sign-extended */
        const uint32_t snr = (uint32_t)(((uint64_t)in[i] * gain) >> p->snr_shift);
        out[i] = shrink(snr);
    }
}
