/* RESIZE_BILINEAR int8 (NHWC), TFLM's integer path: each output row / column's two source indices and 10-bit
 * fraction are precomputed by the compiler (they depend only on shapes and options); the kernel weighs the four
 * bytes with 20 fractional bits and rounds half away from zero. No requantization. */
#ifndef COSIM_NN_OPS_RESIZE_BILINEAR_H
#define COSIM_NN_OPS_RESIZE_BILINEAR_H
#include <stdint.h>

typedef struct {
    int32_t batches, in_h, in_w, depth;
    int32_t out_h, out_w;
    const int32_t *y_lo, *y_hi, *y_frac; /* out_h entries each */
    const int32_t *x_lo, *x_hi, *x_frac; /* out_w entries each */
} cosim_resize_bilinear_t;

void cosim_resize_bilinear_s8(const cosim_resize_bilinear_t *p, const int8_t *in, int8_t *out);

#endif
