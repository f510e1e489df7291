/* Shared by the CMSIS-NN adapters (firmware/nn/cmsis): the scratch check and the fallback counter.
 *
 * Scratch: CMSIS-NN's conv / depthwise / average-pool kernels want a working buffer (im2col columns, int16 copies of
 * the input, per-channel sums). The compiler plans one per layer into the arena (sim/models/scratch.py: CMSIS-NN's
 * get_buffer_size functions for the target core) and the generated model.c passes it to the
 * cosim_<op>_with_scratch entry points. Every call asks CMSIS-NN for its size again; a call whose buffer is too
 * small (or missing: the entry points without scratch), or that CMSIS-NN rejects, runs the ref kernel instead —
 * still bit-exact — and counts itself in cosim_nn_fallbacks, which the model runner reports, so a benchmark can tell
 * it measured CMSIS-NN throughout. Cases CMSIS-NN does not cover at all (broadcasting ADD, MUL, LOGISTIC, ...) run
 * the ref kernel without counting. */
#ifndef COSIM_NN_CMSIS_ADAPTER_H
#define COSIM_NN_CMSIS_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "arm_nnfunctions.h"
#include "cosim_nn.h"

extern uint32_t cosim_nn_fallbacks;

/* The caller's scratch holds what CMSIS-NN asks for (need <= 0: no buffer wanted). */
static inline int cosim_nn_scratch_fits(const void *scratch, int32_t scratch_bytes, int32_t need)
{
    return need <= 0 || (scratch != NULL && need <= scratch_bytes);
}

static inline cmsis_nn_context cosim_nn_ctx(void *scratch, int32_t need)
{
    cmsis_nn_context ctx = {need > 0 ? scratch : NULL, need > 0 ? need : 0};
    return ctx;
}

#endif
