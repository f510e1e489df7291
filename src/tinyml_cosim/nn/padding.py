"""Output sizes and leading paddings of SAME / VALID windows, as TFLM computes them (ComputeOutSize,
ComputePaddingWithOffset): shared by the convolution and pooling lowerings, int8 (nn/graph.py) and 16x8 (nn/ops/)."""

from __future__ import annotations


def compute_out_size(padding: str, in_size: int, k: int, stride: int, dilation: int) -> int:
    eff = (k - 1) * dilation + 1
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    return (in_size + stride - eff) // stride


def compute_padding(stride: int, dilation: int, in_size: int, k: int, out_size: int) -> int:
    """ComputePaddingWithOffset: the leading padding; the odd extra pixel goes to the bottom/right."""
    eff = (k - 1) * dilation + 1
    total = max((out_size - 1) * stride + eff - in_size, 0)
    return total // 2
