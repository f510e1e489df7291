# CMSIS-NN sources for a firmware built with KERNELS=cmsis-nn (included by an app's app.mk, e.g. model_runner's).
# Nothing of CMSIS-NN is in this repository: CMSIS_NN_DIR points at a checkout (tested at commit 99f736a6).
# Only the int8 kernels the adapters in this directory call, and what those call in turn; --gc-sections drops the
# rest of each file. Paths are relative to firmware/, where the Makefile runs.
ifeq ($(strip $(CMSIS_NN_DIR)),)
$(error KERNELS=cmsis-nn needs CMSIS_NN_DIR pointing at a CMSIS-NN checkout)
endif

NN_CMSIS_ADAPTER_SRCS := $(wildcard nn/cmsis/*.c)

_CNN := $(CMSIS_NN_DIR)/Source
NN_CMSIS_LIB_SRCS := \
    $(_CNN)/FullyConnectedFunctions/arm_fully_connected_wrapper_s8.c \
    $(_CNN)/FullyConnectedFunctions/arm_fully_connected_s8.c \
    $(_CNN)/FullyConnectedFunctions/arm_fully_connected_per_channel_s8.c \
    $(_CNN)/FullyConnectedFunctions/arm_fully_connected_get_buffer_sizes_s8.c \
    $(_CNN)/ConvolutionFunctions/arm_convolve_wrapper_s8.c \
    $(_CNN)/ConvolutionFunctions/arm_convolve_s8.c \
    $(_CNN)/ConvolutionFunctions/arm_convolve_1x1_s8.c \
    $(_CNN)/ConvolutionFunctions/arm_convolve_1x1_s8_fast.c \
    $(_CNN)/ConvolutionFunctions/arm_convolve_1_x_n_s8.c \
    $(_CNN)/ConvolutionFunctions/arm_convolve_get_buffer_sizes_s8.c \
    $(_CNN)/ConvolutionFunctions/arm_nn_mat_mult_kernel_s8_s16.c \
    $(_CNN)/ConvolutionFunctions/arm_nn_mat_mult_kernel_row_offset_s8_s16.c \
    $(_CNN)/ConvolutionFunctions/arm_depthwise_conv_wrapper_s8.c \
    $(_CNN)/ConvolutionFunctions/arm_depthwise_conv_s8.c \
    $(_CNN)/ConvolutionFunctions/arm_depthwise_conv_s8_opt.c \
    $(_CNN)/ConvolutionFunctions/arm_depthwise_conv_3x3_s8.c \
    $(_CNN)/ConvolutionFunctions/arm_depthwise_conv_get_buffer_sizes_s8.c \
    $(_CNN)/ConvolutionFunctions/arm_nn_depthwise_conv_s8_core.c \
    $(_CNN)/PoolingFunctions/arm_avgpool_s8.c \
    $(_CNN)/PoolingFunctions/arm_avgpool_get_buffer_sizes_s8.c \
    $(_CNN)/PoolingFunctions/arm_max_pool_s8.c \
    $(_CNN)/BasicMathFunctions/arm_elementwise_add_s8.c \
    $(_CNN)/BasicMathFunctions/arm_elementwise_mul_s8.c \
    $(_CNN)/BasicMathFunctions/arm_elementwise_add_s16.c \
    $(_CNN)/BasicMathFunctions/arm_elementwise_mul_s16.c \
    $(_CNN)/SoftmaxFunctions/arm_softmax_s8_s16.c \
    $(_CNN)/SoftmaxFunctions/arm_softmax_s8.c \
    $(_CNN)/SoftmaxFunctions/arm_nn_softmax_common_s8.c \
    $(_CNN)/SVDFunctions/arm_svdf_s8.c \
    $(_CNN)/SVDFunctions/arm_svdf_state_s16_s8.c \
    $(addprefix $(_CNN)/NNSupportFunctions/, \
        arm_nn_mat_mul_core_1x_s8.c arm_nn_mat_mul_core_4x_s8.c arm_nn_mat_mult_nt_t_s8.c arm_nn_mat_mult_nt_t_s8_s32.c \
        arm_nn_vec_mat_mult_t_s8.c arm_nn_vec_mat_mult_t_svdf_s8.c arm_nn_vec_mat_mult_t_per_ch_s8.c arm_nn_depthwise_conv_nt_t_s8.c \
        arm_nn_depthwise_conv_nt_t_padded_s8.c arm_q7_to_q15_with_offset.c arm_s8_to_s16_unordered_with_offset.c \
        arm_nntables.c)

NN_CMSIS_LIB_SRCS := $(sort $(wildcard $(NN_CMSIS_LIB_SRCS)))

# CMSIS-NN's own code is not -Wextra/-Werror clean for every compiler; keep our strictness for our code only.
# -fbuiltin undoes the -fno-builtin that the Makefile's -ffreestanding implies: CMSIS-NN reads unaligned words with
# memcpy(&v, p, 4) and relies on the compiler turning that into one load; as calls to newlib-nano's byte loop the
# 3x3 convolutions of ResNet-8 ran 1.5-2x slower than our plain C kernels.
$(patsubst %.c,$(OUT)/obj/%.o,$(NN_CMSIS_LIB_SRCS)): CFLAGS += -w -fbuiltin
