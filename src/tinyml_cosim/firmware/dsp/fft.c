/* Radix-2 decimation-in-time FFT of a real frame, in int32 with int64 products; see cosim_dsp.h for the scaling.
 * Written for bit-exactness with sim/dsp/fft.py, which performs the same operations in the same order. */
#include "cosim_dsp.h"
#include "dsp_tables.h"

/* cos and -sin of 2*pi*k/1024 for 0 <= k < 512, from the quarter-wave table sin(2*pi*k/1024), k = 0..256. */
static void twiddle(uint32_t k, int32_t *wr, int32_t *wi)
{
    if (k <= 256u) {
        *wr = cosim_dsp_sin_q15[256u - k];
        *wi = -(int32_t)cosim_dsp_sin_q15[k];
    } else {
        *wr = -(int32_t)cosim_dsp_sin_q15[k - 256u];
        *wi = -(int32_t)cosim_dsp_sin_q15[512u - k];
    }
}

static uint32_t bit_reverse(uint32_t i, uint32_t bits)
{
    uint32_t r = 0;
    for (uint32_t b = 0; b < bits; b++) {
        r = (r << 1) | (i & 1u);
        i >>= 1;
    }
    return r;
}

int cosim_rfft_power_q15(const int16_t *x, const int16_t *window, uint32_t log2n, int32_t *work, uint64_t *power)
{
    if (log2n < COSIM_DSP_MIN_LOG2N || log2n > COSIM_DSP_MAX_LOG2N) return -1;
    const uint32_t n = 1u << log2n;
    int32_t *re = work, *im = work + n;
    for (uint32_t i = 0; i < n; i++) {
        /* |x * w| < 2^30 and |x * 2^15| <= 2^30: both fit, with room for the first stage's sum in int64 */
        int32_t v = window ? (int32_t)x[i] * window[i] : (int32_t)((uint32_t)(int32_t)x[i] << 15);
        uint32_t j = bit_reverse(i, log2n);
        re[j] = v;
        im[j] = 0;
    }
    for (uint32_t s = 1; s <= log2n; s++) {
        const uint32_t m = 1u << s, half = m >> 1, step = (1u << COSIM_DSP_MAX_LOG2N) / m;
        for (uint32_t j = 0; j < half; j++) {
            int32_t wr, wi;
            twiddle(j * step, &wr, &wi);
            for (uint32_t a = j; a < n; a += m) {
                const uint32_t b = a + half;
                /* one rounding per product pair; the halving keeps every magnitude within the input's */
                int64_t tr = ((int64_t)re[b] * wr - (int64_t)im[b] * wi + (1 << 14)) >> 15;
                int64_t ti = ((int64_t)re[b] * wi + (int64_t)im[b] * wr + (1 << 14)) >> 15;
                int64_t ar = re[a], ai = im[a];
                re[a] = (int32_t)((ar + tr + 1) >> 1);
                im[a] = (int32_t)((ai + ti + 1) >> 1);
                re[b] = (int32_t)((ar - tr + 1) >> 1);
                im[b] = (int32_t)((ai - ti + 1) >> 1);
            }
        }
    }
    for (uint32_t k = 0; k <= n / 2u; k++) {
        int64_t r = re[k], i = im[k];
        power[k] = (uint64_t)(r * r) + (uint64_t)(i * i);
    }
    return 0;
}

const int16_t *cosim_hann_q15(uint32_t log2n)
{
    switch (log2n) {
    case 6: return cosim_dsp_hann64_q15;
    case 7: return cosim_dsp_hann128_q15;
    case 8: return cosim_dsp_hann256_q15;
    case 9: return cosim_dsp_hann512_q15;
    case 10: return cosim_dsp_hann1024_q15;
    default: return 0;
    }
}
