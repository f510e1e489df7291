/* CAST between int8, int16 and int32 (stored values, as TFLM's static_cast; quantization ignored). The buffers are
 * of the types in_bits / out_bits name. */
#ifndef COSIM_NN_OPS_CAST_H
#define COSIM_NN_OPS_CAST_H
#include <stdint.h>

typedef struct {
    int32_t size;
    int32_t in_bits, out_bits;
} cosim_cast_t;

void cosim_cast(const cosim_cast_t *p, const void *in, void *out);

#endif
