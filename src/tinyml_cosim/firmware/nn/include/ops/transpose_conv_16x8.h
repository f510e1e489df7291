/* TRANSPOSE_CONV 16x8 (int16 activations NHWC, int8 filter [out_c, k_h, k_w, in_c] with per-channel multipliers,
 * int64 bias): TFLM's reference int16 TransposeConv. No zero point is applied (TFLM's int16 kernel applies none).
 * Every input pixel times the filter is scattered into an int64 accumulator per output element (the scratch buffer,
 * out elements * 8 bytes), then the bias, the 64-bit requantization of CONV_2D 16x8 and the activation clamp. */
#ifndef COSIM_NN_OPS_TRANSPOSE_CONV_16X8_H
#define COSIM_NN_OPS_TRANSPOSE_CONV_16X8_H
#include <stdint.h>

typedef struct {
    int32_t batches, in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w, stride_h, stride_w;
    int32_t pad_h, pad_w; /* leading padding of the output */
    int32_t act_min, act_max;
    const int8_t *filter;      /* out_c * k_h * k_w * in_c */
    const int64_t *bias;       /* out_c, or NULL */
    const int32_t *multiplier; /* out_c */
    const int32_t *shift;      /* out_c */
} cosim_transpose_conv_16x8_t;

/* output_shape: the operator's int32[4] operand, never read (TFLM sizes everything from the output tensor);
 * scratch: batches * out_h * out_w * out_c int64 accumulators, 8-byte aligned (contents undefined on entry) */
void cosim_transpose_conv_16x8(const cosim_transpose_conv_16x8_t *p, const int32_t *output_shape, const int16_t *in,
                               int16_t *out, void *scratch);

#endif
