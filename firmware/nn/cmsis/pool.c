/* AVERAGE_POOL_2D and MAX_POOL_2D over CMSIS-NN (arm_avgpool_s8, arm_max_pool_s8), as TFLM's CMSIS-NN kernels call
 * them. Both clip windows to the image and round the average half away from zero, as TFLM's reference does.
 * Replaces firmware/nn/ref/pool.c, whose kernels stay linked (renamed) as the fallback. */
#include "cmsis_adapter.h"

void cosim_ref_avgpool_s8(const cosim_pool_t *p, const int8_t *input, int8_t *output);
void cosim_ref_maxpool_s8(const cosim_pool_t *p, const int8_t *input, int8_t *output);
#define cosim_avgpool_s8 cosim_ref_avgpool_s8
#define cosim_maxpool_s8 cosim_ref_maxpool_s8
#include "../ref/pool.c"
#undef cosim_avgpool_s8
#undef cosim_maxpool_s8

typedef struct {
    cmsis_nn_pool_params params;
    cmsis_nn_dims in, filter, out;
} pool_dims_t;

static pool_dims_t pool_dims(const cosim_pool_t *p)
{
    pool_dims_t d;
    d.params.stride = (cmsis_nn_tile){p->stride_w, p->stride_h};
    d.params.padding = (cmsis_nn_tile){p->pad_w, p->pad_h};
    d.params.activation = (cmsis_nn_activation){p->act_min, p->act_max};
    d.in = (cmsis_nn_dims){1, p->in_h, p->in_w, p->channels};
    d.filter = (cmsis_nn_dims){1, p->k_h, p->k_w, 1};
    d.out = (cmsis_nn_dims){1, p->out_h, p->out_w, p->channels};
    return d;
}

void cosim_avgpool_s8(const cosim_pool_t *p, const int8_t *input, int8_t *output)
{
    pool_dims_t d = pool_dims(p);
    const int32_t need = arm_avgpool_s8_get_buffer_size(p->out_w, p->channels);
    if (need > (int32_t)COSIM_NN_SCRATCH_BYTES) {
        cosim_nn_fallbacks++;
        cosim_ref_avgpool_s8(p, input, output);
        return;
    }
    cmsis_nn_context ctx = cosim_nn_ctx(need);
    if (arm_avgpool_s8(&ctx, &d.params, &d.in, input, &d.filter, &d.out, output) != ARM_CMSIS_NN_SUCCESS) {
        cosim_nn_fallbacks++;
        cosim_ref_avgpool_s8(p, input, output);
    }
}

void cosim_maxpool_s8(const cosim_pool_t *p, const int8_t *input, int8_t *output)
{
    pool_dims_t d = pool_dims(p);
    cmsis_nn_context ctx = cosim_nn_ctx(0);
    if (arm_max_pool_s8(&ctx, &d.params, &d.in, input, &d.filter, &d.out, output) != ARM_CMSIS_NN_SUCCESS) {
        cosim_nn_fallbacks++;
        cosim_ref_maxpool_s8(p, input, output);
    }
}
