# vibration_monitor: links the compiled model and kernels (nn/model.mk), then the fixed-point DSP (firmware/dsp).
include nn/model.mk
override APP_SRCS += $(wildcard dsp/*.c)
override EXTRA_CFLAGS += -Idsp/include
