/* STRIDED_SLICE int8 and int16: the output box walked in order over five dimensions (leading 1s), each dimension
 * stepping the input by a signed element step from a precomputed first element; the compiler resolved begin, end,
 * strides and the masks and checked that every element read lies inside the input. */
#ifndef COSIM_NN_OPS_STRIDED_SLICE_H
#define COSIM_NN_OPS_STRIDED_SLICE_H
#include <stdint.h>

typedef struct {
    int32_t out_shape[5];
    int32_t steps[5];
    int32_t offset;
} cosim_strided_slice_t;

void cosim_strided_slice_s8(const cosim_strided_slice_t *p, const int8_t *in, int8_t *out);
void cosim_strided_slice_s16(const cosim_strided_slice_t *p, const int16_t *in, int16_t *out);

#endif
