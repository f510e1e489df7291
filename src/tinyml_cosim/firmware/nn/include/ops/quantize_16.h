/* QUANTIZE / DEQUANTIZE of the 16x8 path (int16 activations): float32 -> int16 at a model's input (TFLM's
 * AffineQuantize), int8 <-> int16, int16 -> int16 and to / from int32 requantization (TFLM's Requantize: one
 * multiplier, zero points, clamp to the output type), int16 -> float32 at a model's output (TFLM's Dequantize, in
 * double). Float appears only in the two boundary conversions, where TFLM computes in float too. */
#ifndef COSIM_NN_OPS_QUANTIZE_16_H
#define COSIM_NN_OPS_QUANTIZE_16_H

#include <stdint.h>

typedef struct {
    int32_t size;
    int32_t zero_point;
    float scale;
} cosim_quantize_f32_16_t;

typedef struct {
    int32_t size;
    int32_t input_zp, output_zp;
    int32_t multiplier, shift;
    int32_t out_min, out_max;
} cosim_requantize_16_t;

typedef struct {
    int32_t size;
    int32_t zero_point;
    float scale;
} cosim_dequantize_16_t;

void cosim_quantize_f32_s16(const cosim_quantize_f32_16_t *p, const float *in, int16_t *out);
void cosim_requantize_s8_s16(const cosim_requantize_16_t *p, const int8_t *in, int16_t *out);
void cosim_requantize_s16_s8(const cosim_requantize_16_t *p, const int16_t *in, int8_t *out);
void cosim_requantize_s16_s16(const cosim_requantize_16_t *p, const int16_t *in, int16_t *out);
void cosim_requantize_s8_s32(const cosim_requantize_16_t *p, const int8_t *in, int32_t *out);
void cosim_requantize_s16_s32(const cosim_requantize_16_t *p, const int16_t *in, int32_t *out);
void cosim_requantize_s32_s8(const cosim_requantize_16_t *p, const int32_t *in, int8_t *out);
void cosim_requantize_s32_s16(const cosim_requantize_16_t *p, const int32_t *in, int16_t *out);
void cosim_dequantize_s16_f32(const cosim_dequantize_16_t *p, const int16_t *in, float *out);

#endif
