/* FULLY_CONNECTED over CMSIS-NN (arm_fully_connected_wrapper_s8: per-tensor and per-channel). Built only when
 * CMSIS_NN_DIR is set; replaces firmware/nn/ref/fc.c, every other kernel stays the ref one. CMSIS-NN's default
 * requantization is the same double rounding as TFLM's (CMSIS_NN_USE_SINGLE_ROUNDING must stay undefined). */
#include "arm_nnfunctions.h"
#include "cosim_nn.h"

void cosim_fc_s8(const cosim_fc_t *p, const int8_t *input, int8_t *output)
{
    cmsis_nn_context ctx = {NULL, 0}; /* arm_fully_connected_s8 needs no buffer without MVE */
    cmsis_nn_fc_params fc;
    cmsis_nn_quant_params q;
    cmsis_nn_dims in_dims = {p->batches, 1, 1, p->in_depth};
    cmsis_nn_dims filter_dims = {p->in_depth, 1, 1, p->out_depth};
    cmsis_nn_dims bias_dims = {1, 1, 1, p->out_depth};
    cmsis_nn_dims out_dims = {p->batches, 1, 1, p->out_depth};
    fc.input_offset = p->input_offset;
    fc.filter_offset = p->filter_offset;
    fc.output_offset = p->output_offset;
    fc.activation.min = p->act_min;
    fc.activation.max = p->act_max;
    q.multiplier = (int32_t *)p->multiplier;
    q.shift = (int32_t *)p->shift;
    q.is_per_channel = p->per_channel;
    (void)arm_fully_connected_wrapper_s8(&ctx, &fc, &q, &in_dims, input, &filter_dims, p->filter, &bias_dims, p->bias,
                                         &out_dims, output);
}

int32_t cosim_fc_s8_scratch(const cosim_fc_t *p)
{
    cmsis_nn_dims filter_dims = {p->in_depth, 1, 1, p->out_depth};
    return arm_fully_connected_s8_get_buffer_size(&filter_dims);
}
