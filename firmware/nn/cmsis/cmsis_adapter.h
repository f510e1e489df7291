/* Shared by the CMSIS-NN adapters (firmware/nn/cmsis): the scratch buffer and the fallback counter.
 *
 * Scratch: CMSIS-NN's conv / depthwise / average-pool kernels want a working buffer (im2col columns, int16 copies of
 * the input, per-channel sums). The generated model.c does not pass one (its descriptors predate the adapters), so
 * the adapters share one static buffer of COSIM_NN_SCRATCH_BYTES, which the firmware build sizes per model
 * (sim/models/firmware.py: the largest get_buffer_size bound over the model's layers). Every call checks the size
 * CMSIS-NN asks for against it; a call that does not fit, or a case CMSIS-NN does not cover (broadcasting ADD),
 * runs the ref kernel instead — still bit-exact — and counts itself in cosim_nn_fallbacks, which the model runner
 * reports, so a benchmark can tell it measured CMSIS-NN throughout. */
#ifndef COSIM_NN_CMSIS_ADAPTER_H
#define COSIM_NN_CMSIS_ADAPTER_H

#include <stdint.h>

#include "arm_nnfunctions.h"
#include "cosim_nn.h"

#ifndef COSIM_NN_SCRATCH_BYTES
#if defined(__arm__)
#define COSIM_NN_SCRATCH_BYTES 4096
#else
#define COSIM_NN_SCRATCH_BYTES 65536 /* host builds (tests): no RAM limit worth saving bytes for */
#endif
#endif

extern int32_t cosim_nn_scratch[]; /* int32_t: CMSIS-NN reads it as int16/int32 arrays */
extern uint32_t cosim_nn_fallbacks;

static inline cmsis_nn_context cosim_nn_ctx(int32_t need)
{
    cmsis_nn_context ctx = {need > 0 ? (void *)cosim_nn_scratch : (void *)0, need};
    return ctx;
}

#endif
