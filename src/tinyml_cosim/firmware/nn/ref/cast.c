/* CAST int8 / int16 / int32, either way: widening keeps the value; narrowing keeps the low bits (GCC defines the
 * conversion to a narrower signed type as modulo 2^n, as the C++ compilers that build TFLM do). */
#include "ops/cast.h"

static int32_t load(const void *in, int32_t bits, int32_t i)
{
    if (bits == 8) return ((const int8_t *)in)[i];
    if (bits == 16) return ((const int16_t *)in)[i];
    return ((const int32_t *)in)[i];
}

void cosim_cast(const cosim_cast_t *p, const void *in, void *out)
{
    for (int32_t i = 0; i < p->size; i++) {
        const int32_t v = load(in, p->in_bits, i);
        if (p->out_bits == 8) {
            ((int8_t *)out)[i] = (int8_t)v;
        } else if (p->out_bits == 16) {
            ((int16_t *)out)[i] = (int16_t)v;
        } else {
            ((int32_t *)out)[i] = v;
        }
    }
}
