/* CONV_2D and DEPTHWISE_CONV_2D 16x8 (int16 activations NHWC, int8 weights, int64 or int32 bias): TFLM's reference
 * int16 ConvPerChannel / DepthwiseConvPerChannel. No zero point is applied (TFLM's int16 kernels apply none); the
 * sum of filter times input goes to an int64 accumulator requantized by the 64-bit MultiplyByQuantizedMultiplier, or
 * (acc32: an int32 bias) to a wrapping int32 one requantized as int8 convolutions are. CONV_2D: filter
 * [out_c, k_h, k_w, filter_in_c], groups = in_c / filter_in_c; DEPTHWISE_CONV_2D: filter [1, k_h, k_w, out_c],
 * out channel m + in channel * depth_multiplier. */
#ifndef COSIM_NN_OPS_CONV_16X8_H
#define COSIM_NN_OPS_CONV_16X8_H
#include <stdint.h>

typedef struct {
    int32_t batches, in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w, filter_in_c;
    int32_t stride_h, stride_w, dil_h, dil_w;
    int32_t pad_h, pad_w; /* leading padding */
    int32_t depth_multiplier;
    int32_t act_min, act_max;
    int32_t acc32; /* 1: int32 accumulator and bias32; 0: int64 accumulator and bias */
    const int8_t *filter;
    const int64_t *bias;       /* out_c, or NULL */
    const int32_t *bias32;     /* out_c, or NULL */
    const int32_t *multiplier; /* out_c */
    const int32_t *shift;      /* out_c */
} cosim_conv_16x8_t;

void cosim_conv2d_16x8(const cosim_conv_16x8_t *p, const int16_t *in, int16_t *out);
void cosim_dwconv2d_16x8(const cosim_conv_16x8_t *p, const int16_t *in, int16_t *out);

/* The 16x8 requantization of an exact sum of products (shared with FULLY_CONNECTED 16x8): acc32 wraps it to int32,
 * adds bias32 (may be NULL) wrapping, and takes the int32 MultiplyByQuantizedMultiplier; otherwise adds the int64
 * bias (may be NULL) wrapping and takes the 64-bit one. Returns the int32 result, before any offset or clamp. */
int32_t cosim_requant_16x8(int64_t sum, const int64_t *bias, const int32_t *bias32, int32_t acc32, int32_t c,
                           int32_t multiplier, int32_t shift);

#endif
