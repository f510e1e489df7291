/* AVERAGE_POOL_2D and MAX_POOL_2D int16 (NHWC): TFLM's reference int16 AveragePool / MaxPool. Over the part of each
 * window inside the image: the int32 sum divided by the count, rounded half away from zero, or the largest value;
 * then the activation clamp. Input and output share their quantization (the compiler checks it, as TFLM does). */
#ifndef COSIM_NN_OPS_POOL_16X8_H
#define COSIM_NN_OPS_POOL_16X8_H
#include <stdint.h>

typedef struct {
    int32_t batches, in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t k_h, k_w, stride_h, stride_w;
    int32_t pad_h, pad_w; /* leading padding */
    int32_t act_min, act_max;
} cosim_pool_16x8_t;

void cosim_avgpool_16x8(const cosim_pool_16x8_t *p, const int16_t *in, int16_t *out);
void cosim_maxpool_16x8(const cosim_pool_16x8_t *p, const int16_t *in, int16_t *out);

#endif
