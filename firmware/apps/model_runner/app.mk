# model_runner: runs a model compiled by sim.models against inputs from the data channel. The generated model is not
# part of the source tree: sim/models/firmware.py compiles it into a content-addressed directory under build/ and
# passes that directory as -DCOSIM_MODEL_DIR=<dir> in EXTRA_CFLAGS, which also puts the path (and therefore the
# model's content hash) into sim/build.py's build key: one cached build per (board, model, kernels).
COSIM_MODEL_DIR := $(patsubst -DCOSIM_MODEL_DIR=%,%,$(filter -DCOSIM_MODEL_DIR=%,$(EXTRA_CFLAGS)))
ifeq ($(strip $(COSIM_MODEL_DIR)),)
$(error model_runner needs a compiled model: build it with `cosim model check` or sim.models.firmware.build_runner)
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
# The Makefile sets APP_SRCS after including this file; an `override` assignment wins over that later plain one
# (GNU make: later non-override assignments are ignored), which is how an app adds sources outside its directory.
override APP_SRCS := $(wildcard $(APP_DIR)/*.c) $(COSIM_MODEL_DIR)/model.c $(NN_SRCS)
