/* Base-2 logarithm in Q16.16 by repeated squaring of the normalised mantissa (one result bit per squaring): exact
 * integer steps, so sim/dsp/fixed.py reproduces it bit for bit. Used for log band energies and log-mel features. */
#include "cosim_dsp.h"

int32_t cosim_log2_q16(uint64_t x)
{
    if (x == 0) return INT32_MIN;
    uint32_t e = 63u - (uint32_t)__builtin_clzll(x); /* index of the top set bit */
    /* mantissa in Q30, in [1, 2) */
    uint64_t m = e >= 30u ? x >> (e - 30u) : x << (30u - e);
    uint32_t frac = 0;
    for (int i = 0; i < 16; i++) {
        m = (m * m) >> 30; /* m < 2^31: the product fits in 64 bits */
        frac <<= 1;
        if (m >= (2ull << 30)) {
            m >>= 1;
            frac |= 1u;
        }
    }
    return (int32_t)((e << 16) | frac);
}
