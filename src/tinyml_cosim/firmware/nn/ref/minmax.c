/* MAXIMUM / MINIMUM int8 with broadcasting, as TFLM's reference kernels: the raw values compared. */
#include "ops/minmax.h"

#include "broadcast4d.h"

#define MAX_ONE(a, b) ((a) > (b) ? (a) : (b))
#define MIN_ONE(a, b) ((a) < (b) ? (a) : (b))

void cosim_maximum_s8(const cosim_minmax_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    COSIM_BROADCAST_4D(p->out_shape, p->in1_strides, p->in2_strides, input1, input2, output, MAX_ONE);
}

void cosim_minimum_s8(const cosim_minmax_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    COSIM_BROADCAST_4D(p->out_shape, p->in1_strides, p->in2_strides, input1, input2, output, MIN_ONE);
}
