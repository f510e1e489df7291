/*
 * Integer requantization and gemmlowp-style fixed-point helpers, written from the arithmetic TFLM uses
 * (double rounding: SaturatingRoundingDoublingHighMul then RoundingDivideByPOT). Shared by the ref kernels.
 *
 * Signed right shifts are arithmetic on every compiler this project targets (gcc, arm-none-eabi-gcc); left shifts of
 * possibly negative values go through uint32_t so they wrap instead of being undefined.
 */
#ifndef COSIM_NN_FIXEDPOINT_H
#define COSIM_NN_FIXEDPOINT_H

#include <stdint.h>

#define COSIM_INT32_MIN ((int32_t)(-2147483647 - 1))
#define COSIM_INT32_MAX ((int32_t)2147483647)

static inline int32_t cosim_shl_wrap(int32_t x, int n) { return (int32_t)((uint32_t)x << n); }

static inline int32_t cosim_srdhm(int32_t a, int32_t b)
{
    int64_t ab;
    int32_t nudge;
    if (a == b && a == COSIM_INT32_MIN) {
        return COSIM_INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    /* C division truncates toward zero, which is what the reference does. */
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

static inline int32_t cosim_rdbpot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

static inline int32_t cosim_mbqm(int32_t x, int32_t multiplier, int32_t shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return cosim_rdbpot(cosim_srdhm(cosim_shl_wrap(x, left), multiplier), right);
}

static inline int32_t cosim_clamp(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* Saturating left shift (SaturatingRoundingMultiplyByPOT with a positive exponent). */
static inline int32_t cosim_sat_shl(int32_t x, int exponent)
{
    const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold) return COSIM_INT32_MAX;
    if (x < -threshold) return COSIM_INT32_MIN;
    return cosim_shl_wrap(x, exponent);
}

static inline int32_t cosim_add_wrap(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t cosim_sub_wrap(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

#endif
