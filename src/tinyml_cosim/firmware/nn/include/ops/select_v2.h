/* SELECT_V2: a bool condition (one byte per element, 0 or 1) picks each output element from x (true) or y (false),
 * all three broadcast up to 4-D: TFLM's Select / BroadcastSelect5DSlow, bytes copied (one shared quantization).
 * Strides are element strides per output dimension, 0 = broadcast. */
#ifndef COSIM_NN_OPS_SELECT_V2_H
#define COSIM_NN_OPS_SELECT_V2_H
#include <stdint.h>

typedef struct {
    int32_t out_shape[4];
    int32_t cond_strides[4];
    int32_t x_strides[4];
    int32_t y_strides[4];
} cosim_select_v2_t;

void cosim_select_v2_s8(const cosim_select_v2_t *p, const uint8_t *cond, const int8_t *x, const int8_t *y, int8_t *out);

#endif
