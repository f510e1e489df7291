"""Scratch bytes the CMSIS-NN kernels ask for, per layer, so the planner can place them in the arena.

These are CMSIS-NN's own `*_get_buffer_size` functions (checked at commit 99f736a63036613032f9b70de36b493bcd7802d4),
including the algorithm choice of the `*_wrapper_s8` entry points, for the two builds the project targets:

- `dsp=True`: Cortex-M4 / M7 / M33 (`__ARM_FEATURE_DSP`, CMSIS-NN's ARM_MATH_DSP), built with GCC;
- `dsp=False`: Cortex-M0 / M3 and the host test build (plain C).

MVE (Cortex-M55/M85) is not a target. Each adapter in firmware/nn/cmsis asks CMSIS-NN for the size again at run
time and falls back to the ref kernel (counted in cosim_nn_fallbacks) if the planned buffer is smaller, so a slip
here costs speed, never correctness; tests/kernels/test_kernels_cmsis.py compares these numbers with the C ones.
TFLM's CMSIS-NN kernels request the same sizes (RequestScratchBufferInArena in Prepare).
"""

from __future__ import annotations

from tinyml_cosim.nn.graph import Graph
from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops import BY_KIND

# Layer kinds whose CMSIS-NN adapter takes a scratch buffer (the `cosim_<op>_with_scratch` entry points)
SCRATCH_KINDS = ("conv2d", "dwconv2d", "avgpool", "fc")


def _convolve_s8(p: dict[str, int]) -> int:
    """arm_convolve_s8_get_buffer_size (non-MVE): two int16 im2col columns, padded to a multiple of 4."""
    cols = p["k_h"] * p["k_w"] * p["in_c"]
    return 2 * (cols + (-cols) % 4) * 2


def layer_scratch_bytes(layer: Layer, dsp: bool) -> int:
    """Bytes of scratch CMSIS-NN needs for this layer (0: none, or the layer does not run CMSIS-NN)."""
    p = layer.p
    if layer.kind == "conv2d":  # arm_convolve_wrapper_s8_get_buffer_size(_dsp)
        one_by_one = (
            p["pad_h"] == 0 and p["pad_w"] == 0 and p["k_h"] == 1 and p["k_w"] == 1 and p["dil_h"] == p["dil_w"] == 1
        )
        if one_by_one:
            # arm_convolve_1x1_s8_fast (stride 1) needs a buffer only when built with Arm Compiler 6; the
            # strided arm_convolve_1x1_s8 needs none
            return 0
        # arm_convolve_1_x_n_s8 (height-1 input and filter, (stride_w * in_c) % 4 == 0) asks for the same as the
        # general arm_convolve_s8 without MVE
        return _convolve_s8(p)
    if layer.kind == "dwconv2d":  # arm_depthwise_conv_wrapper_s8_get_buffer_size(_dsp)
        if p["depth_multiplier"] != 1 or p["dil_h"] != 1 or p["dil_w"] != 1:
            return 0  # arm_depthwise_conv_s8: no buffer
        if p["k_h"] == 3 and p["k_w"] == 3 and p["pad_h"] <= 1 and p["pad_w"] <= 1:
            return 0  # arm_depthwise_conv_3x3_s8: no buffer
        # arm_depthwise_conv_s8_opt: one int16 column per input channel with DSP; the plain build runs
        # arm_depthwise_conv_s8 and needs none
        return 2 * p["in_c"] * p["k_h"] * p["k_w"] if dsp else 0
    if layer.kind == "avgpool":  # arm_avgpool_s8_get_buffer_size: an int32 sum per channel with DSP
        return 4 * p["channels"] if dsp else 0
    # FULLY_CONNECTED (arm_fully_connected_s8_get_buffer_size) needs a buffer only with MVE; max pool, ADD and
    # softmax take none; every other kind runs a ref kernel.
    return 0


def graph_scratch(graph: Graph, dsp: bool) -> dict[int, int]:
    """Layer index -> scratch bytes, for the layers that need any."""
    sizes = {i: layer_scratch_bytes(layer, dsp) for i, layer in enumerate(graph.layers)}
    return {i: n for i, n in sizes.items() if n > 0}


def registry_scratch(graph: Graph) -> dict[int, int]:
    """Layer index -> bytes of the working buffer a registry kernel takes (nn/ops: `Operator.scratch`), for every
    kernel set: the buffer is part of the operator's contract, not of one library."""
    out: dict[int, int] = {}
    for i, layer in enumerate(graph.layers):
        op = BY_KIND.get(layer.kind)
        if op is not None and op.scratch is not None:
            n = int(op.scratch(layer))
            if n > 0:
                out[i] = n
    return out
