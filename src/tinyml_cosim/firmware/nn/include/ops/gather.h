/* GATHER int8: for every batch, outer index and gathered index, one run of `inner` bytes; the indices are a
 * compile-time table the compiler checked to lie in [0, axis_size). */
#ifndef COSIM_NN_OPS_GATHER_H
#define COSIM_NN_OPS_GATHER_H
#include <stdint.h>

typedef struct {
    int32_t batches, outer, coords, axis_size, inner;
    const int32_t *indices; /* batches * coords entries */
} cosim_gather_t;

void cosim_gather_s8(const cosim_gather_t *p, const int8_t *in, int8_t *out);

#endif
