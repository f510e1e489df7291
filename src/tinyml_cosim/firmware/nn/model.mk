# Link a model compiled by tinyml_cosim.nn.compiler (model.c / model.h in COSIM_MODEL_DIR) with the kernel set KERNELS into an
# app. An app that runs a model includes this from its app.mk. tinyml_cosim/build.py compiles the model into a
# content-addressed directory under build/ and passes it as -DCOSIM_MODEL_DIR=<dir> in EXTRA_CFLAGS, which also puts
# the path (and therefore the model's content hash) into the build key: one cached build per (board, app, model,
# kernels). The model comes from the scenario's `model:`, `cosim build --model`, or the app's app.yaml.
COSIM_MODEL_DIR := $(patsubst -DCOSIM_MODEL_DIR=%,%,$(filter -DCOSIM_MODEL_DIR=%,$(EXTRA_CFLAGS)))
ifeq ($(strip $(COSIM_MODEL_DIR)),)
$(error app $(APP) runs a compiled model: build it with `cosim build --app $(APP) --model MODEL.tflite`, from a scenario with model:, or name one in its app.yaml)
endif

# The kernels: our ref sources, or the CMSIS-NN adapters (each replaces the ref file of the same name) plus
# CMSIS-NN's own sources (firmware/nn/cmsis/cmsis.mk).
NN_REF_SRCS := $(wildcard nn/ref/*.c)
ifeq ($(KERNELS),cmsis-nn)
include nn/cmsis/cmsis.mk
NN_SRCS := $(NN_CMSIS_ADAPTER_SRCS) $(filter-out $(patsubst nn/cmsis/%,nn/ref/%,$(NN_CMSIS_ADAPTER_SRCS)),$(NN_REF_SRCS)) \
           $(NN_CMSIS_LIB_SRCS)
override EXTRA_CFLAGS += -DCOSIM_KERNELS_CMSIS_NN=1 -I$(CMSIS_NN_DIR)/Include
else
NN_SRCS := $(NN_REF_SRCS)
endif

override EXTRA_CFLAGS += -Inn/include -Inn/ref -I$(COSIM_MODEL_DIR)
# The Makefile sets APP_SRCS after including app.mk; an `override` assignment wins over that later plain one
# (GNU make: later non-override assignments are ignored), which is how an app adds sources outside its directory.
# An app with more sources (firmware/dsp, say) appends them after this include: `override APP_SRCS += ...`.
override APP_SRCS := $(wildcard $(APP_DIR)/*.c) $(COSIM_MODEL_DIR)/model.c $(NN_SRCS)
