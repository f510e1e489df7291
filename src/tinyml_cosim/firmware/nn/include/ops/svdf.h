/* SVDF int8 (int8 or int16 state): TFLM's reference integer SVDF. Every call shifts the state (batch rows of
 * num_filters x memory values, in place) one step left, writes the requantized feature matmul as the newest column,
 * and requantizes bias + the time dot products of each unit's `rank` filters to the int8 output. */
#ifndef COSIM_NN_OPS_SVDF_H
#define COSIM_NN_OPS_SVDF_H
#include <stdint.h>

typedef struct {
    int32_t batch, input_size, num_filters, rank, memory;
    int32_t input_zp, state_zp, output_zp;
    int32_t feature_mult, feature_shift; /* input * weights_feature / state */
    int32_t time_mult, time_shift;       /* state * weights_time / output */
    int32_t state_bits;                  /* 8 or 16: the type of the state and of weights_time */
    int32_t state_min, state_max;        /* the state type's range */
    const int8_t *weights_feature;       /* [num_filters][input_size] */
    const int8_t *weights_time_s8;       /* [num_filters][memory] when state_bits is 8, else NULL */
    const int16_t *weights_time_s16;     /* the same when state_bits is 16 */
    const int32_t *bias;                 /* [num_filters / rank] */
} cosim_svdf_t;

/* state: int8_t or int16_t [batch][num_filters * memory] (state_bits), read and written in place. scratch:
 * batch * (num_filters + num_filters / rank) int32 (TFLM's two scratch buffers), which the CMSIS-NN adapter uses;
 * the ref kernel needs none. */
void cosim_svdf_s8(const cosim_svdf_t *p, const int8_t *in, void *state, int8_t *out, void *scratch);

#endif
