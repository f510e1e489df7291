# keyword_spotter: microphone -> fixed-point log-mel features (firmware/dsp) -> int8 DS-CNN -> decisions.
# The model: app.yaml (models/kws/kws_int8.tflite), a scenario's model:, or `cosim build --model`.
include nn/model.mk
override APP_SRCS += $(wildcard dsp/*.c)
override EXTRA_CFLAGS += -Idsp/include
