/* CONV_2D and DEPTHWISE_CONV_2D over CMSIS-NN (arm_convolve_wrapper_s8, arm_depthwise_conv_wrapper_s8), the same
 * calls TFLM's CMSIS-NN kernels make. Replaces firmware/nn/ref/conv.c; the ref kernels stay linked (renamed) as the
 * fallback. Padding is the leading (top/left) padding in both conventions; filter layouts are TFLM's, which are
 * CMSIS-NN's; an input offset of 0 (zero point folded into the bias by the compiler) is exact for CMSIS-NN too. */
#include "cmsis_adapter.h"

void cosim_ref_conv2d_s8(const cosim_conv_t *p, const int8_t *input, int8_t *output);
void cosim_ref_dwconv2d_s8(const cosim_conv_t *p, const int8_t *input, int8_t *output);
void cosim_ref_conv2d_s8_with_scratch(const cosim_conv_t *p, const int8_t *input, int8_t *output, void *scratch,
                                      int32_t scratch_bytes);
void cosim_ref_dwconv2d_s8_with_scratch(const cosim_conv_t *p, const int8_t *input, int8_t *output, void *scratch,
                                        int32_t scratch_bytes);
int32_t cosim_ref_conv2d_s8_scratch(const cosim_conv_t *p);
int32_t cosim_ref_dwconv2d_s8_scratch(const cosim_conv_t *p);
const char *cosim_ref_nn_impl(void);
uint32_t cosim_ref_nn_fallback_count(void);
#define cosim_conv2d_s8 cosim_ref_conv2d_s8
#define cosim_dwconv2d_s8 cosim_ref_dwconv2d_s8
#define cosim_conv2d_s8_with_scratch cosim_ref_conv2d_s8_with_scratch
#define cosim_dwconv2d_s8_with_scratch cosim_ref_dwconv2d_s8_with_scratch
#define cosim_conv2d_s8_scratch cosim_ref_conv2d_s8_scratch
#define cosim_dwconv2d_s8_scratch cosim_ref_dwconv2d_s8_scratch
#define cosim_nn_impl cosim_ref_nn_impl
#define cosim_nn_fallback_count cosim_ref_nn_fallback_count
#include "../ref/conv.c"
#undef cosim_conv2d_s8
#undef cosim_dwconv2d_s8
#undef cosim_conv2d_s8_with_scratch
#undef cosim_dwconv2d_s8_with_scratch
#undef cosim_conv2d_s8_scratch
#undef cosim_dwconv2d_s8_scratch
#undef cosim_nn_impl
#undef cosim_nn_fallback_count

uint32_t cosim_nn_fallbacks;

const char *cosim_nn_impl(void) { return "cmsis-nn"; }
uint32_t cosim_nn_fallback_count(void) { return cosim_nn_fallbacks; }

typedef struct {
    cmsis_nn_dims in, filter, bias, out;
    cmsis_nn_per_channel_quant_params q;
    cmsis_nn_tile stride, padding, dilation;
    cmsis_nn_activation act;
} conv_dims_t;

static conv_dims_t dims_of(const cosim_conv_t *p, int depthwise)
{
    conv_dims_t d;
    d.in = (cmsis_nn_dims){1, p->in_h, p->in_w, p->in_c};
    d.filter =
        depthwise ? (cmsis_nn_dims){1, p->k_h, p->k_w, p->out_c} : (cmsis_nn_dims){p->out_c, p->k_h, p->k_w, p->in_c};
    d.bias = (cmsis_nn_dims){1, 1, 1, p->out_c};
    d.out = (cmsis_nn_dims){1, p->out_h, p->out_w, p->out_c};
    d.q.multiplier = (int32_t *)p->multiplier; /* CMSIS-NN's API is not const-correct here; it only reads */
    d.q.shift = (int32_t *)p->shift;
    d.stride = (cmsis_nn_tile){p->stride_w, p->stride_h};
    d.padding = (cmsis_nn_tile){p->pad_w, p->pad_h};
    d.dilation = (cmsis_nn_tile){p->dil_w, p->dil_h};
    d.act = (cmsis_nn_activation){p->act_min, p->act_max};
    return d;
}

static cmsis_nn_conv_params conv_params(const cosim_conv_t *p, const conv_dims_t *d)
{
    cmsis_nn_conv_params c;
    c.input_offset = p->input_offset;
    c.output_offset = p->output_offset;
    c.stride = d->stride;
    c.padding = d->padding;
    c.dilation = d->dilation;
    c.activation = d->act;
    return c;
}

static cmsis_nn_dw_conv_params dw_params(const cosim_conv_t *p, const conv_dims_t *d)
{
    cmsis_nn_dw_conv_params c;
    c.input_offset = p->input_offset;
    c.output_offset = p->output_offset;
    c.ch_mult = p->depth_multiplier;
    c.stride = d->stride;
    c.padding = d->padding;
    c.dilation = d->dilation;
    c.activation = d->act;
    return c;
}

int32_t cosim_conv2d_s8_scratch(const cosim_conv_t *p)
{
    conv_dims_t d = dims_of(p, 0);
    cmsis_nn_conv_params c = conv_params(p, &d);
    return arm_convolve_wrapper_s8_get_buffer_size(&c, &d.in, &d.filter, &d.out);
}

int32_t cosim_dwconv2d_s8_scratch(const cosim_conv_t *p)
{
    conv_dims_t d = dims_of(p, 1);
    cmsis_nn_dw_conv_params c = dw_params(p, &d);
    return arm_depthwise_conv_wrapper_s8_get_buffer_size(&c, &d.in, &d.filter, &d.out);
}

void cosim_conv2d_s8_with_scratch(const cosim_conv_t *p, const int8_t *input, int8_t *output, void *scratch,
                                  int32_t scratch_bytes)
{
    conv_dims_t d = dims_of(p, 0);
    cmsis_nn_conv_params c = conv_params(p, &d);
    const int32_t need = arm_convolve_wrapper_s8_get_buffer_size(&c, &d.in, &d.filter, &d.out);
    cmsis_nn_context ctx = cosim_nn_ctx(scratch, need);
    if (!cosim_nn_scratch_fits(scratch, scratch_bytes, need) ||
        arm_convolve_wrapper_s8(&ctx, &c, &d.q, &d.in, input, &d.filter, p->filter, &d.bias, p->bias, &d.out, output) !=
            ARM_CMSIS_NN_SUCCESS) {
        cosim_nn_fallbacks++; /* too little scratch, or an argument CMSIS-NN rejects (it wrote nothing) */
        cosim_ref_conv2d_s8(p, input, output);
    }
}

void cosim_dwconv2d_s8_with_scratch(const cosim_conv_t *p, const int8_t *input, int8_t *output, void *scratch,
                                    int32_t scratch_bytes)
{
    conv_dims_t d = dims_of(p, 1);
    cmsis_nn_dw_conv_params c = dw_params(p, &d);
    const int32_t need = arm_depthwise_conv_wrapper_s8_get_buffer_size(&c, &d.in, &d.filter, &d.out);
    cmsis_nn_context ctx = cosim_nn_ctx(scratch, need);
    if (!cosim_nn_scratch_fits(scratch, scratch_bytes, need) ||
        arm_depthwise_conv_wrapper_s8(&ctx, &c, &d.q, &d.in, input, &d.filter, p->filter, &d.bias, p->bias, &d.out,
                                      output) != ARM_CMSIS_NN_SUCCESS) {
        cosim_nn_fallbacks++;
        cosim_ref_dwconv2d_s8(p, input, output);
    }
}

void cosim_conv2d_s8(const cosim_conv_t *p, const int8_t *input, int8_t *output)
{
    cosim_conv2d_s8_with_scratch(p, input, output, NULL, 0);
}

void cosim_dwconv2d_s8(const cosim_conv_t *p, const int8_t *input, int8_t *output)
{
    cosim_dwconv2d_s8_with_scratch(p, input, output, NULL, 0);
}
