/* PAD / PADV2 int8 and int16 up to 4-D (shapes with leading 1s): the input copied into a box of pad_value. */
#ifndef COSIM_NN_OPS_PAD_H
#define COSIM_NN_OPS_PAD_H
#include <stdint.h>

typedef struct {
    int32_t in_shape[4];
    int32_t out_shape[4];
    int32_t pad_before[4];
    int32_t pad_value;
} cosim_pad_t;

void cosim_pad_s8(const cosim_pad_t *p, const int8_t *input, int8_t *output);
void cosim_pad_s16(const cosim_pad_t *p, const int16_t *input, int16_t *output);

#endif
