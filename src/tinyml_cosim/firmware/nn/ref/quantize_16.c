/* QUANTIZE / DEQUANTIZE of the 16x8 path, as TFLM's reference AffineQuantize, Requantize and Dequantize. */
#include "ops/quantize_16.h"

#include <math.h>

#include "fixedpoint.h"

/* The rounded quotient is clamped to +-2^17 before the cast: every int16 result (zero point included) lies within,
 * and a quotient beyond the int32 range or NaN (where TFLM's cast is undefined) gets a defined value. */
#define COSIM_Q16_CAST_LIMIT 131072.0f

void cosim_quantize_f32_s16(const cosim_quantize_f32_16_t *p, const float *in, int16_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        float r = roundf(in[i] / p->scale); /* float division, half away from zero, as TFLM */
        if (!(r > -COSIM_Q16_CAST_LIMIT)) r = -COSIM_Q16_CAST_LIMIT;
        if (r > COSIM_Q16_CAST_LIMIT) r = COSIM_Q16_CAST_LIMIT;
        out[i] = (int16_t)cosim_clamp((int32_t)r + p->zero_point, -32768, 32767);
    }
}

static int32_t requantize_one(const cosim_requantize_16_t *p, int32_t x)
{
    /* x - zero point wraps as int32 (TFLM's arithmetic, where it is defined); the zero point is added in 64 bits so
     * an int32 output saturates instead of overflowing */
    const int32_t v = (int32_t)((uint32_t)x - (uint32_t)p->input_zp);
    const int64_t r = (int64_t)cosim_mbqm(v, p->multiplier, p->shift) + p->output_zp;
    return (int32_t)(r < p->out_min ? p->out_min : r > p->out_max ? p->out_max : r);
}

void cosim_requantize_s8_s16(const cosim_requantize_16_t *p, const int8_t *in, int16_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) out[i] = (int16_t)requantize_one(p, in[i]);
}

void cosim_requantize_s16_s8(const cosim_requantize_16_t *p, const int16_t *in, int8_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) out[i] = (int8_t)requantize_one(p, in[i]);
}

void cosim_requantize_s16_s16(const cosim_requantize_16_t *p, const int16_t *in, int16_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) out[i] = (int16_t)requantize_one(p, in[i]);
}

void cosim_requantize_s8_s32(const cosim_requantize_16_t *p, const int8_t *in, int32_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) out[i] = requantize_one(p, in[i]);
}

void cosim_requantize_s16_s32(const cosim_requantize_16_t *p, const int16_t *in, int32_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) out[i] = requantize_one(p, in[i]);
}

void cosim_requantize_s32_s8(const cosim_requantize_16_t *p, const int32_t *in, int8_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) out[i] = (int8_t)requantize_one(p, in[i]);
}

void cosim_requantize_s32_s16(const cosim_requantize_16_t *p, const int32_t *in, int16_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) out[i] = (int16_t)requantize_one(p, in[i]);
}

void cosim_dequantize_s16_f32(const cosim_dequantize_16_t *p, const int16_t *in, float *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) out[i] = (float)((double)p->scale * (double)((int32_t)in[i] - p->zero_point));
}
