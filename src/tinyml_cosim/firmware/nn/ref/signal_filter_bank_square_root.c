/* CUSTOM:SignalFilterBankSquareRoot, as TFLM's Signal library computes it. */
#include "ops/signal_filter_bank_square_root.h"

static int32_t leading_zeros64(uint64_t x) /* x > 0 */
{
    int32_t n = 0;
    while (!(x & (UINT64_C(1) << 63))) {
        x <<= 1;
        ++n;
    }
    return n;
}

/* the root of num > 0 in a `width`-bit word (32 or 64), rounded up when the remainder exceeds it */
static uint64_t root_bits(uint64_t num, int32_t width)
{
    const uint64_t top = width == 64 ? UINT64_C(0xFFFFFFFF) : UINT64_C(0xFFFF);
    uint64_t res = 0, bit;
    int32_t leading = (leading_zeros64(num) - (64 - width)) | 1;
    int32_t iterations = (width - 1 - leading) / 2 + 1;
    bit = UINT64_C(1) << (width - 1 - leading);
    while (iterations--) {
        if (num >= res + bit) {
            num -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    return (num > res && res != top) ? res + 1 : res;
}

static uint32_t sqrt64(uint64_t num)
{
    if (num == 0) {
        return 0;
    }
    return (uint32_t)root_bits(num, (num >> 32) == 0 ? 32 : 64);
}

void cosim_signal_filter_bank_square_root(const cosim_signal_filter_bank_square_root_t *p, const uint64_t *in,
                                          const int32_t *scale_bits, uint32_t *out)
{
    const int32_t shift = *scale_bits;
    int32_t i;
    for (i = 0; i < p->channels; ++i) {
        out[i] = (shift >= 0 && shift <= 31) ? sqrt64(in[i]) >> shift : 0;
    }
}
