/* QUANTIZE of a uint8 input to int8 (a model that takes camera or audio bytes as uint8) and of an int8 tensor to a
 * uint8 output (a model that gives its scores as uint8): TFLM's reference Requantize, (x - input_zp) scaled by one
 * multiplier plus the output zero point, clamped to the output type. The uint8 input pointer is a byte pointer like
 * every registry kernel's; the kernel reads it as uint8. */
#ifndef COSIM_NN_OPS_QUANTIZE_UINT8_H
#define COSIM_NN_OPS_QUANTIZE_UINT8_H

#include <stdint.h>

typedef struct {
    int32_t size;
    int32_t input_zp, output_zp;
    int32_t multiplier, shift;
} cosim_quantize_u8_t;

void cosim_quantize_u8_s8(const cosim_quantize_u8_t *p, const int8_t *in, int8_t *out);
void cosim_quantize_s8_u8(const cosim_quantize_u8_t *p, const int8_t *in, void *out);

#endif
