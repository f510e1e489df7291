/* cosim_dsp.h — fixed-point signal processing for the reference applications: a radix-2 FFT power spectrum of an
 * int16 frame, Hann windows, and a base-2 logarithm. Integer arithmetic only (no FPU needed: the same results on
 * the Cortex-M3 and M4F, and on the host), each function bit-exact with its Python reference in sim/dsp/
 * (tests/test_dsp.py compiles these sources for the host and compares them bit for bit).
 *
 * The project's own code, MIT. With a CMSIS-DSP checkout an app may use arm_rfft_q15 instead; these are here so the
 * applications build and verify without one, and so the host reference can be exact. */
#ifndef COSIM_DSP_H
#define COSIM_DSP_H
#include <stdint.h>

#define COSIM_DSP_MIN_LOG2N 3u
#define COSIM_DSP_MAX_LOG2N 10u /* frames of 8 to 1024 samples */

/* Power spectrum of a real frame x[0..n-1], n = 2^log2n, optionally multiplied by a q15 window (NULL: none).
 * The FFT scales by 1/2 at each of its log2n stages (it can never overflow) and carries 15 fractional bits, so
 *     power[k] = |FFT(x * w)[k] / n|^2 * 2^30 (rounded at each stage), k = 0 .. n/2,
 * with x in input LSBs and w in [0, 1). A full-scale sine of amplitude A LSB gives power ~ (A/2)^2 * 2^30 in its bin.
 * work: 2*n int32 of scratch. Returns 0, or -1 for a log2n out of range (nothing written). */
int cosim_rfft_power_q15(const int16_t *x, const int16_t *window, uint32_t log2n, int32_t *work, uint64_t *power);

/* The periodic Hann window of n = 2^log2n samples (6 <= log2n <= 10), round(32767 * (1 - cos(2 pi i / n)) / 2),
 * or NULL for another length. */
const int16_t *cosim_hann_q15(uint32_t log2n);

/* log2(x) in Q16.16, truncated (16 squaring steps of the mantissa); x = 0 gives INT32_MIN. */
int32_t cosim_log2_q16(uint64_t x);

#endif
