/*
 * cosim_nn: int8 kernels bit-exact with TensorFlow Lite Micro's reference kernels.
 *
 * One descriptor struct per kernel family holds everything the compiler (sim/models) precomputed: shapes, paddings,
 * zero-point offsets, per-channel multipliers/shifts, activation ranges and pointers to constant weights in flash.
 * A kernel call is then `cosim_<op>(&descriptor, input, output)`; no malloc, no float in the int8 paths, no state.
 * Tensors are NHWC with batch 1. Portable C99.
 *
 * Two implementations share these entry points: firmware/nn/ref (our own C) and firmware/nn/cmsis (adapters over
 * CMSIS-NN, built only when CMSIS_NN_DIR is set). The host test-suite loads this header through cffi, so the part
 * between COSIM_NN_CDEF_BEGIN and COSIM_NN_CDEF_END must stay free of preprocessor lines and macros.
 */
#ifndef COSIM_NN_H
#define COSIM_NN_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* COSIM_NN_CDEF_BEGIN */

/* CONV_2D and DEPTHWISE_CONV_2D. Filter layout: conv [out_c][k_h][k_w][in_c], depthwise [k_h][k_w][out_c]. */
typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w, dil_h, dil_w;
    int32_t pad_h, pad_w;     /* leading padding (top, left) */
    int32_t depth_multiplier; /* depthwise only */
    int32_t input_offset;     /* -input zero point; 0 when the compiler folded it into the bias */
    int32_t output_offset;    /* output zero point */
    int32_t act_min, act_max;
    const int8_t *filter;
    const int32_t *bias;       /* NULL: no bias */
    const int32_t *multiplier; /* per output channel */
    const int32_t *shift;      /* per output channel; > 0 is a left shift */
} cosim_conv_t;

/* FULLY_CONNECTED. Weights [out_depth][in_depth]; multiplier/shift per output when per_channel, else one value. */
typedef struct {
    int32_t batches, in_depth, out_depth;
    int32_t input_offset, filter_offset, output_offset;
    int32_t act_min, act_max;
    int32_t per_channel;
    const int8_t *filter;
    const int32_t *bias;
    const int32_t *multiplier;
    const int32_t *shift;
} cosim_fc_t;

/* AVERAGE_POOL_2D and MAX_POOL_2D */
typedef struct {
    int32_t in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t k_h, k_w, stride_h, stride_w, pad_h, pad_w;
    int32_t act_min, act_max;
} cosim_pool_t;

/* ADD and MUL with 4-D broadcasting: element strides of each input per output dimension (0 = broadcast). */
typedef struct {
    int32_t out_shape[4];
    int32_t in1_strides[4];
    int32_t in2_strides[4];
    int32_t size;
    int32_t in1_offset, in2_offset, out_offset;
    int32_t left_shift;
    int32_t in1_mult, in1_shift, in2_mult, in2_shift;
    int32_t out_mult, out_shift;
    int32_t act_min, act_max;
} cosim_eltwise_t;

/* SOFTMAX over the last axis (int8 in, int8 out with scale 1/256 and zero point -128) */
typedef struct {
    int32_t outer, depth;
    int32_t input_multiplier, input_left_shift;
    int32_t diff_min;
} cosim_softmax_t;

/* LOGISTIC and TANH */
typedef struct {
    int32_t size;
    int32_t input_zp;
    int32_t range_radius;
    int32_t input_multiplier, input_left_shift;
} cosim_sigmoid_t;

/* CONCATENATION of int8 tensors with equal quantization */
typedef struct {
    int32_t outer;
    int32_t n_inputs;
    const int32_t *copy_sizes; /* per input: elements from the concatenation axis inwards */
} cosim_concat_t;

/* QUANTIZE (float -> int8, model input), DEQUANTIZE (int8 -> float, model output), QUANTIZE int8 -> int8 */
typedef struct {
    int32_t size;
    float scale;
    int32_t zero_point;
} cosim_quantize_t;

typedef struct {
    int32_t size;
    double scale; /* TFLM multiplies in double and narrows to float */
    int32_t zero_point;
} cosim_dequantize_t;

typedef struct {
    int32_t size;
    int32_t input_zp, output_zp;
    int32_t multiplier, shift;
} cosim_requantize_t;

void cosim_conv2d_s8(const cosim_conv_t *p, const int8_t *input, int8_t *output);
void cosim_dwconv2d_s8(const cosim_conv_t *p, const int8_t *input, int8_t *output);
void cosim_fc_s8(const cosim_fc_t *p, const int8_t *input, int8_t *output);
void cosim_avgpool_s8(const cosim_pool_t *p, const int8_t *input, int8_t *output);
void cosim_maxpool_s8(const cosim_pool_t *p, const int8_t *input, int8_t *output);
void cosim_add_s8(const cosim_eltwise_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void cosim_mul_s8(const cosim_eltwise_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void cosim_softmax_s8(const cosim_softmax_t *p, const int8_t *input, int8_t *output);
void cosim_logistic_s8(const cosim_sigmoid_t *p, const int8_t *input, int8_t *output);
void cosim_tanh_s8(const cosim_sigmoid_t *p, const int8_t *input, int8_t *output);
void cosim_concat_s8(const cosim_concat_t *p, const int8_t *const *inputs, int8_t *output);
void cosim_quantize_f32_s8(const cosim_quantize_t *p, const float *input, int8_t *output);
void cosim_dequantize_s8_f32(const cosim_dequantize_t *p, const int8_t *input, float *output);
void cosim_requantize_s8(const cosim_requantize_t *p, const int8_t *input, int8_t *output);

/* The same kernels with a scratch buffer: CMSIS-NN's working memory (im2col columns, int16 copies of the input,
 * per-channel sums). The compiler plans it into the arena as a buffer alive during that one call and passes
 * arena + offset and its size; the ref kernels ignore it. A CMSIS-NN adapter given less than CMSIS-NN asks for
 * (the calls above pass none) runs the ref kernel instead, bit-exact, and counts it in cosim_nn_fallback_count(). */
void cosim_conv2d_s8_with_scratch(const cosim_conv_t *p, const int8_t *input, int8_t *output, void *scratch,
                                  int32_t scratch_bytes);
void cosim_dwconv2d_s8_with_scratch(const cosim_conv_t *p, const int8_t *input, int8_t *output, void *scratch,
                                    int32_t scratch_bytes);
void cosim_fc_s8_with_scratch(const cosim_fc_t *p, const int8_t *input, int8_t *output, void *scratch,
                              int32_t scratch_bytes);
void cosim_avgpool_s8_with_scratch(const cosim_pool_t *p, const int8_t *input, int8_t *output, void *scratch,
                                   int32_t scratch_bytes);

/* Scratch bytes a kernel needs for this descriptor on the core it was built for (0 for every ref kernel); the
 * compiler computes the same numbers (sim/models/scratch.py) to plan them into the arena. */
int32_t cosim_conv2d_s8_scratch(const cosim_conv_t *p);
int32_t cosim_dwconv2d_s8_scratch(const cosim_conv_t *p);
int32_t cosim_fc_s8_scratch(const cosim_fc_t *p);
int32_t cosim_avgpool_s8_scratch(const cosim_pool_t *p);

/* Which implementation was linked: "ref" or "cmsis-nn". */
const char *cosim_nn_impl(void);

/* Calls that ran a ref kernel in place of CMSIS-NN (scratch too small, or arguments CMSIS-NN rejects; not the
 * kernels and cases CMSIS-NN does not cover). Always 0 for the ref kernels. */
uint32_t cosim_nn_fallback_count(void);

/* Model descriptor written by the compiler into model.c */
typedef struct {
    const char *name; /* e.g. "3:CONV_2D" (TFLite operator index and name) */
    uint32_t macs;
    uint32_t params;
    uint32_t output_bytes;
    uint32_t output_offset; /* offset of the layer's output in the arena */
} cosim_layer_info_t;

typedef struct {
    int32_t rank;
    int32_t shape[4];
    int32_t type; /* 0 = int8, 1 = float32, 2 = uint8 (a model input QUANTIZE'd to int8) */
    float scale;
    int32_t zero_point;
    uint32_t bytes;
} cosim_tensor_info_t;

typedef struct {
    const char *name;
    uint32_t arena_bytes;
    uint32_t weight_bytes;
    uint32_t n_layers;
    const cosim_layer_info_t *layers;
    cosim_tensor_info_t input;
    cosim_tensor_info_t output;
    uint64_t total_macs;
} cosim_model_desc_t;

/* Called after every layer with its output tensor (for intermediate-tensor checks); may be NULL. */
typedef void (*cosim_layer_cb_t)(uint32_t layer, const void *data, uint32_t bytes, void *user);

/* COSIM_NN_CDEF_END */

#ifdef __cplusplus
}
#endif

#endif /* COSIM_NN_H */
