/* ARG_MAX / ARG_MIN over one axis of an int8 tensor (seen as [outer, axis, inner]): the int32 index of the first
   largest (smallest) value, as TFLM's reference ArgMinMax. */
#ifndef COSIM_NN_OPS_ARG_MIN_MAX_H
#define COSIM_NN_OPS_ARG_MIN_MAX_H
#include <stdint.h>

typedef struct {
    int32_t outer, axis_size, inner;
    int32_t is_max;
} cosim_arg_min_max_t;

void cosim_arg_min_max_s8(const cosim_arg_min_max_t *p, const int8_t *in, int32_t *out);

#endif
