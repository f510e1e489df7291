/* Test helper for tests/kernels/test_kernels_cmsis.py, linked into the host CMSIS-NN library: the scratch sizes
 * CMSIS-NN asks for when built for a core with the DSP extension (Cortex-M4), from its public *_dsp size functions,
 * which every build of CMSIS-NN compiles. The host build itself is plain C, so cosim_<op>_scratch() answers for that
 * variant; these answer for the other, so sim/models/scratch.py is checked against CMSIS-NN for both. */
#include "arm_nnfunctions.h"
#include "cosim_nn.h"

int32_t test_dsp_conv2d_scratch(const cosim_conv_t *p);
int32_t test_dsp_dwconv2d_scratch(const cosim_conv_t *p);
int32_t test_dsp_avgpool_scratch(const cosim_pool_t *p);
int32_t test_dsp_fc_scratch(const cosim_fc_t *p);

int32_t test_dsp_conv2d_scratch(const cosim_conv_t *p)
{
    const cmsis_nn_dims in = {1, p->in_h, p->in_w, p->in_c};
    const cmsis_nn_dims filter = {p->out_c, p->k_h, p->k_w, p->in_c};
    const cmsis_nn_dims out = {1, p->out_h, p->out_w, p->out_c};
    cmsis_nn_conv_params c;
    c.input_offset = p->input_offset;
    c.output_offset = p->output_offset;
    c.stride = (cmsis_nn_tile){p->stride_w, p->stride_h};
    c.padding = (cmsis_nn_tile){p->pad_w, p->pad_h};
    c.dilation = (cmsis_nn_tile){p->dil_w, p->dil_h};
    c.activation = (cmsis_nn_activation){p->act_min, p->act_max};
    return arm_convolve_wrapper_s8_get_buffer_size_dsp(&c, &in, &filter, &out);
}

int32_t test_dsp_dwconv2d_scratch(const cosim_conv_t *p)
{
    const cmsis_nn_dims in = {1, p->in_h, p->in_w, p->in_c};
    const cmsis_nn_dims filter = {1, p->k_h, p->k_w, p->out_c};
    const cmsis_nn_dims out = {1, p->out_h, p->out_w, p->out_c};
    cmsis_nn_dw_conv_params c;
    c.input_offset = p->input_offset;
    c.output_offset = p->output_offset;
    c.ch_mult = p->depth_multiplier;
    c.stride = (cmsis_nn_tile){p->stride_w, p->stride_h};
    c.padding = (cmsis_nn_tile){p->pad_w, p->pad_h};
    c.dilation = (cmsis_nn_tile){p->dil_w, p->dil_h};
    c.activation = (cmsis_nn_activation){p->act_min, p->act_max};
    return arm_depthwise_conv_wrapper_s8_get_buffer_size_dsp(&c, &in, &filter, &out);
}

int32_t test_dsp_avgpool_scratch(const cosim_pool_t *p) { return arm_avgpool_s8_get_buffer_size_dsp(p->out_w, p->channels); }

int32_t test_dsp_fc_scratch(const cosim_fc_t *p)
{
    const cmsis_nn_dims filter = {p->in_depth, 1, 1, p->out_depth};
    return arm_fully_connected_s8_get_buffer_size_dsp(&filter);
}
