/* AVERAGE_POOL_2D and MAX_POOL_2D over CMSIS-NN (arm_avgpool_s8, arm_max_pool_s8), as TFLM's CMSIS-NN kernels call
 * them. Both clip windows to the image and round the average half away from zero, as TFLM's reference does.
 * Replaces firmware/nn/ref/pool.c, whose kernels stay linked (renamed) as the fallback. */
#include "cmsis_adapter.h"

void cosim_ref_avgpool_s8(const cosim_pool_t *p, const int8_t *input, int8_t *output);
void cosim_ref_maxpool_s8(const cosim_pool_t *p, const int8_t *input, int8_t *output);
void cosim_ref_avgpool_s8_with_scratch(const cosim_pool_t *p, const int8_t *input, int8_t *output, void *scratch,
                                       int32_t scratch_bytes);
int32_t cosim_ref_avgpool_s8_scratch(const cosim_pool_t *p);
#define cosim_avgpool_s8 cosim_ref_avgpool_s8
#define cosim_maxpool_s8 cosim_ref_maxpool_s8
#define cosim_avgpool_s8_with_scratch cosim_ref_avgpool_s8_with_scratch
#define cosim_avgpool_s8_scratch cosim_ref_avgpool_s8_scratch
#include "../ref/pool.c"
#undef cosim_avgpool_s8
#undef cosim_maxpool_s8
#undef cosim_avgpool_s8_with_scratch
#undef cosim_avgpool_s8_scratch

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

int32_t cosim_avgpool_s8_scratch(const cosim_pool_t *p)
{
    return arm_avgpool_s8_get_buffer_size(p->out_w, p->channels);
}

void cosim_avgpool_s8_with_scratch(const cosim_pool_t *p, const int8_t *input, int8_t *output, void *scratch,
                                   int32_t scratch_bytes)
{
    pool_dims_t d = pool_dims(p);
    const int32_t need = arm_avgpool_s8_get_buffer_size(p->out_w, p->channels);
    cmsis_nn_context ctx = cosim_nn_ctx(scratch, need);
    if (!cosim_nn_scratch_fits(scratch, scratch_bytes, need) ||
        arm_avgpool_s8(&ctx, &d.params, &d.in, input, &d.filter, &d.out, output) != ARM_CMSIS_NN_SUCCESS) {
        cosim_nn_fallbacks++;
        cosim_ref_avgpool_s8(p, input, output);
    }
}

void cosim_avgpool_s8(const cosim_pool_t *p, const int8_t *input, int8_t *output)
{
    cosim_avgpool_s8_with_scratch(p, input, output, NULL, 0);
}

void cosim_maxpool_s8(const cosim_pool_t *p, const int8_t *input, int8_t *output)
{
    pool_dims_t d = pool_dims(p);
    cmsis_nn_context ctx = cosim_nn_ctx(NULL, 0);
    if (arm_max_pool_s8(&ctx, &d.params, &d.in, input, &d.filter, &d.out, output) != ARM_CMSIS_NN_SUCCESS) {
        cosim_nn_fallbacks++;
        cosim_ref_maxpool_s8(p, input, output);
    }
}
