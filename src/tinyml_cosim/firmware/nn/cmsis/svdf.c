/* SVDF over CMSIS-NN (arm_svdf_s8 for an int8 state, arm_svdf_state_s16_s8 for int16). Replaces
 * firmware/nn/ref/svdf.c, whose kernel stays linked (renamed) as the fallback.
 *
 * CMSIS-NN's arithmetic equals TFLM's reference when the state's zero point is 0: neither kernel takes one (the
 * reference adds it to the newest state value and subtracts it in the time dot product), so any other zero point
 * runs the ref kernel, uncounted (a case CMSIS-NN does not cover). The feature clamp is the state type's range:
 * TFLM's own CMSIS-NN svdf.cc passes the int16 range for an int8 state too, which its reference does not do.
 * Working memory: TFLM's two int32 buffers (per filter, per unit), planned as this layer's scratch. The kernel sums
 * arm_svdf_s8 wants on Helium (MVE) are not planned: there it refuses, and the ref kernel runs, counted. Both
 * kernels check their buffers before touching the state, so a refused call leaves it for the fallback to shift. */
#include "cmsis_adapter.h"
#include "ops/svdf.h"

void cosim_ref_svdf_s8(const cosim_svdf_t *p, const int8_t *in, void *state, int8_t *out, void *scratch);
#define cosim_svdf_s8 cosim_ref_svdf_s8
#include "../ref/svdf.c"
#undef cosim_svdf_s8

static arm_cmsis_nn_status svdf_cmsis(const cosim_svdf_t *p, const int8_t *in, void *state, int8_t *out,
                                      int32_t *scratch)
{
    const int32_t units = p->num_filters / p->rank;
    cmsis_nn_context kernel_sums = {NULL, 0};
    cmsis_nn_context per_filter = {scratch, (int32_t)(p->batch * p->num_filters * 4)};
    cmsis_nn_context per_unit = {scratch + p->batch * p->num_filters, (int32_t)(p->batch * units * 4)};
    cmsis_nn_svdf_params sp;
    cmsis_nn_per_tensor_quant_params q_feature = {p->feature_mult, p->feature_shift};
    cmsis_nn_per_tensor_quant_params q_time = {p->time_mult, p->time_shift};
    const cmsis_nn_dims in_dims = {p->batch, p->input_size, 1, 1};
    const cmsis_nn_dims state_dims = {p->batch, p->num_filters * p->memory, 1, 1};
    const cmsis_nn_dims wf_dims = {p->num_filters, p->input_size, 1, 1};
    const cmsis_nn_dims wt_dims = {p->num_filters, p->memory, 1, 1};
    const cmsis_nn_dims bias_dims = {units, 1, 1, 1};
    const cmsis_nn_dims out_dims = {p->batch, units, 1, 1};
    sp.rank = p->rank;
    sp.input_offset = p->input_zp; /* CMSIS-NN negates it */
    sp.output_offset = p->output_zp;
    sp.input_activation.min = p->state_min;
    sp.input_activation.max = p->state_max;
    sp.output_activation.min = -128;
    sp.output_activation.max = 127;
    if (p->state_bits == 8) {
        return arm_svdf_s8(&kernel_sums, &per_filter, &per_unit, &sp, &q_feature, &q_time, &in_dims, in, &state_dims,
                           (int8_t *)state, &wf_dims, p->weights_feature, &wt_dims, p->weights_time_s8, &bias_dims,
                           p->bias, &out_dims, out);
    }
    return arm_svdf_state_s16_s8(&per_filter, &per_unit, &sp, &q_feature, &q_time, &in_dims, in, &state_dims,
                                 (int16_t *)state, &wf_dims, p->weights_feature, &wt_dims, p->weights_time_s16,
                                 &bias_dims, p->bias, &out_dims, out);
}

void cosim_svdf_s8(const cosim_svdf_t *p, const int8_t *in, void *state, int8_t *out, void *scratch)
{
    if (p->state_zp != 0) {
        cosim_ref_svdf_s8(p, in, state, out, scratch);
        return;
    }
    if (scratch == NULL || svdf_cmsis(p, in, state, out, (int32_t *)scratch) != ARM_CMSIS_NN_SUCCESS) {
        cosim_nn_fallbacks++;
        cosim_ref_svdf_s8(p, in, state, out, scratch);
    }
}
