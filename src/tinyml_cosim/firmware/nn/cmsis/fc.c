/* FULLY_CONNECTED over CMSIS-NN (arm_fully_connected_wrapper_s8: per-tensor and per-channel). Replaces
 * firmware/nn/ref/fc.c, whose kernel stays linked (renamed) as the fallback. CMSIS-NN's default requantization is
 * the same double rounding as TFLM's (CMSIS_NN_USE_SINGLE_ROUNDING must stay undefined). Without MVE
 * arm_fully_connected_s8 asks for no scratch. */
#include "cmsis_adapter.h"

void cosim_ref_fc_s8(const cosim_fc_t *p, const int8_t *input, int8_t *output);
void cosim_ref_fc_s8_with_scratch(const cosim_fc_t *p, const int8_t *input, int8_t *output, void *scratch,
                                  int32_t scratch_bytes);
int32_t cosim_ref_fc_s8_scratch(const cosim_fc_t *p);
#define cosim_fc_s8 cosim_ref_fc_s8
#define cosim_fc_s8_with_scratch cosim_ref_fc_s8_with_scratch
#define cosim_fc_s8_scratch cosim_ref_fc_s8_scratch
#include "../ref/fc.c"
#undef cosim_fc_s8
#undef cosim_fc_s8_with_scratch
#undef cosim_fc_s8_scratch

int32_t cosim_fc_s8_scratch(const cosim_fc_t *p)
{
    cmsis_nn_dims filter_dims = {p->in_depth, 1, 1, p->out_depth};
    return arm_fully_connected_s8_get_buffer_size(&filter_dims);
}

void cosim_fc_s8_with_scratch(const cosim_fc_t *p, const int8_t *input, int8_t *output, void *scratch,
                              int32_t scratch_bytes)
{
    cmsis_nn_fc_params fc;
    cmsis_nn_quant_params q;
    cmsis_nn_dims in_dims = {p->batches, 1, 1, p->in_depth};
    cmsis_nn_dims filter_dims = {p->in_depth, 1, 1, p->out_depth};
    cmsis_nn_dims bias_dims = {1, 1, 1, p->out_depth};
    cmsis_nn_dims out_dims = {p->batches, 1, 1, p->out_depth};
    const int32_t need = arm_fully_connected_s8_get_buffer_size(&filter_dims);
    cmsis_nn_context ctx = cosim_nn_ctx(scratch, need);
    fc.input_offset = p->input_offset;
    fc.filter_offset = p->filter_offset;
    fc.output_offset = p->output_offset;
    fc.activation.min = p->act_min;
    fc.activation.max = p->act_max;
    q.multiplier = (int32_t *)p->multiplier; /* not const-correct in CMSIS-NN's API; it only reads */
    q.shift = (int32_t *)p->shift;
    q.is_per_channel = p->per_channel;
    if (!cosim_nn_scratch_fits(scratch, scratch_bytes, need) ||
        arm_fully_connected_wrapper_s8(&ctx, &fc, &q, &in_dims, input, &filter_dims, p->filter, &bias_dims, p->bias,
                                       &out_dims, output) != ARM_CMSIS_NN_SUCCESS) {
        cosim_nn_fallbacks++;
        cosim_ref_fc_s8(p, input, output);
    }
}

void cosim_fc_s8(const cosim_fc_t *p, const int8_t *input, int8_t *output)
{
    cosim_fc_s8_with_scratch(p, input, output, NULL, 0);
}
