/* TRANSPOSE_CONV int8 (NHWC, filter [out_c, k_h, k_w, in_c], per-channel multipliers): TFLM's reference integer
 * TransposeConv. Every input pixel times the filter is scattered into an int32 accumulator per output element (the
 * scratch buffer, out elements * 4 bytes), then bias, per-channel requantization and the activation clamp. */
#ifndef COSIM_NN_OPS_TRANSPOSE_CONV_H
#define COSIM_NN_OPS_TRANSPOSE_CONV_H
#include <stdint.h>

typedef struct {
    int32_t batches, in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w, stride_h, stride_w;
    int32_t pad_h, pad_w; /* leading padding of the output */
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    const int8_t *filter;      /* out_c * k_h * k_w * in_c */
    const int32_t *bias;       /* out_c, or NULL */
    const int32_t *multiplier; /* out_c */
    const int32_t *shift;      /* out_c */
} cosim_transpose_conv_t;

/* scratch: batches * out_h * out_w * out_c int32 accumulators (contents undefined on entry) */
void cosim_transpose_conv_s8(const cosim_transpose_conv_t *p, const int8_t *in, int8_t *out, void *scratch);

#endif
