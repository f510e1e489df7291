"""Host references of the firmware's fixed-point DSP (firmware/dsp): the same integer operations in the same order,
so features computed here for training and tests equal, bit for bit, what the MCU computes."""
