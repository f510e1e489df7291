# model_runner: runs a model compiled by tinyml_cosim.nn.compiler against inputs from the data channel (tinyml_cosim/models/firmware.py
# builds it with the model to test).
include nn/model.mk
