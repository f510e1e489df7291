/* FULLY_CONNECTED 16x8 (int16 activations, int8 weights [out_depth, in_depth], int64 or int32 bias): TFLM's
 * reference int16 FullyConnected / FullyConnectedPerChannel. Each row's (input + input_offset) times the weights is
 * requantized by cosim_requant_16x8 (ops/conv_16x8.h: int64 accumulator, or int32 with acc32), then offset and
 * clamped. A per-tensor multiplier is the same value in every entry of multiplier / shift. */
#ifndef COSIM_NN_OPS_FULLY_CONNECTED_16X8_H
#define COSIM_NN_OPS_FULLY_CONNECTED_16X8_H
#include <stdint.h>

typedef struct {
    int32_t batches, in_depth, out_depth;
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    int32_t acc32;             /* 1: int32 accumulator and bias32; 0: int64 accumulator and bias */
    const int8_t *filter;      /* out_depth * in_depth */
    const int64_t *bias;       /* out_depth, or NULL */
    const int32_t *bias32;     /* out_depth, or NULL */
    const int32_t *multiplier; /* out_depth */
    const int32_t *shift;      /* out_depth */
} cosim_fc_16x8_t;

void cosim_fc_16x8(const cosim_fc_16x8_t *p, const int16_t *in, int16_t *out);

#endif
