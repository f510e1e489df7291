/* L2_NORMALIZATION int8 along the last axis (TFLM's reference integer L2Normalization): per row the int32 sum of
 * squared offsets becomes a fixed-point 1/sqrt multiplier; the output is in units of 1/128, zero point 0. */
#ifndef COSIM_NN_OPS_L2_NORMALIZATION_H
#define COSIM_NN_OPS_L2_NORMALIZATION_H
#include <stdint.h>

typedef struct {
    int32_t outer, depth;
    int32_t in_zp;
} cosim_l2norm_t;

void cosim_l2norm_s8(const cosim_l2norm_t *p, const int8_t *in, int8_t *out);

#endif
