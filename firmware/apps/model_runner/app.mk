# model_runner: runs a model compiled by sim.models against inputs from the data channel (sim/models/firmware.py
# builds it with the model to test).
include nn/model.mk
