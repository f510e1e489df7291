/* QUANTIZE uint8 -> int8 and int8 -> uint8, as TFLM's reference Requantize. */
#include "ops/quantize_uint8.h"

#include "fixedpoint.h"

void cosim_quantize_u8_s8(const cosim_quantize_u8_t *p, const int8_t *in, int8_t *out)
{
    const uint8_t *u = (const uint8_t *)in;
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t raw = cosim_mbqm((int32_t)u[i] - p->input_zp, p->multiplier, p->shift) + p->output_zp;
        out[i] = (int8_t)cosim_clamp(raw, -128, 127);
    }
}

void cosim_quantize_s8_u8(const cosim_quantize_u8_t *p, const int8_t *in, void *out)
{
    uint8_t *u = (uint8_t *)out;
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t raw = cosim_mbqm((int32_t)in[i] - p->input_zp, p->multiplier, p->shift) + p->output_zp;
        u[i] = (uint8_t)cosim_clamp(raw, 0, 255);
    }
}
