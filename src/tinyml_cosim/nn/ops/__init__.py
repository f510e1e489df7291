"""The operator registry: every operator compiled through nn/ops/ (one module each, see nn/ops/base.py), in one
table. Adding an operator is a module here, its C file(s) and header under firmware/nn/, a line below, and its test
under tests/ops/; graph lowering, the emitter, the numpy golden and the host test build find it here.

The operators that predate the registry (convolutions, pooling, ADD, MUL, MEAN, SOFTMAX, ...) are still lowered in
nn/graph.py; they move here one by one."""

from __future__ import annotations

from tinyml_cosim.nn.ops import (
    abs,
    activations_16,
    arg_min_max,
    cast,
    comparison,
    conv_16x8,
    div,
    eltwise_16x8,
    eltwise_int32,
    fully_connected_16x8,
    gather,
    hard_swish,
    int32_data,
    l2_normalization,
    leaky_relu,
    log_softmax,
    lstm,
    lstm_16x8,
    mean,
    minmax,
    mirror_pad,
    pad,
    pool_16x8,
    prelu,
    quantize_16,
    quantize_uint8,
    reduce_max,
    reduce_sum,
    relu,
    resize_bilinear,
    resize_nearest_neighbor,
    rsqrt,
    select_v2,
    signal_energy,
    signal_fft_auto_scale,
    signal_filter_bank,
    signal_filter_bank_log,
    signal_filter_bank_spectral_subtraction,
    signal_filter_bank_square_root,
    signal_pcan,
    signal_rfft,
    signal_window,
    slice,
    softmax_16,
    space_to_batch_nd,
    space_to_depth,
    split,
    squared_difference,
    strided_slice,
    sub,
    svdf,
    transpose,
    transpose_conv,
    transpose_conv_16x8,
    unpack,
)
from tinyml_cosim.nn.ops.base import Operator

REGISTRY: tuple[Operator, ...] = (
    *sub.OPERATORS,
    *squared_difference.OPERATORS,
    *prelu.OPERATORS,
    *hard_swish.OPERATORS,
    *relu.OPERATORS,
    *transpose.OPERATORS,
    *resize_nearest_neighbor.OPERATORS,
    *reduce_max.OPERATORS,
    *space_to_depth.OPERATORS,
    *slice.OPERATORS,
    *gather.OPERATORS,
    *space_to_batch_nd.OPERATORS,
    *abs.OPERATORS,
    *reduce_sum.OPERATORS,
    *resize_bilinear.OPERATORS,
    *l2_normalization.OPERATORS,
    *log_softmax.OPERATORS,
    *div.OPERATORS,
    *rsqrt.OPERATORS,
    *quantize_uint8.OPERATORS,
    *leaky_relu.OPERATORS,
    *minmax.OPERATORS,
    *svdf.OPERATORS,
    *arg_min_max.OPERATORS,
    *lstm.OPERATORS,
    *transpose_conv.OPERATORS,
    *strided_slice.OPERATORS,
    *split.OPERATORS,
    *cast.OPERATORS,
    *comparison.OPERATORS,
    *select_v2.OPERATORS,
    *mean.OPERATORS,
    *pad.OPERATORS,
    *quantize_16.OPERATORS,
    *unpack.OPERATORS,
    *mirror_pad.OPERATORS,
    *eltwise_16x8.OPERATORS,
    *activations_16.OPERATORS,
    *softmax_16.OPERATORS,
    *conv_16x8.OPERATORS,
    *fully_connected_16x8.OPERATORS,
    *pool_16x8.OPERATORS,
    *signal_window.OPERATORS,
    *signal_energy.OPERATORS,
    *signal_filter_bank_log.OPERATORS,
    *signal_filter_bank_square_root.OPERATORS,
    *signal_filter_bank.OPERATORS,
    *signal_fft_auto_scale.OPERATORS,
    *signal_rfft.OPERATORS,
    *signal_filter_bank_spectral_subtraction.OPERATORS,
    *signal_pcan.OPERATORS,
    *eltwise_int32.OPERATORS,
    *int32_data.OPERATORS,
    *transpose_conv_16x8.OPERATORS,
    *lstm_16x8.OPERATORS,
    # -- operators added later go above this line --
)
BY_BUILTIN: dict[str, Operator] = {name: o for o in REGISTRY if not o.is_variant for name in o.builtins}
# (builtin, type of the first activation input or "*", type of the first output or "*") -> the variant for those
# types (the 16x8 path: int16 activations); see variant_for
BY_VARIANT: dict[tuple[str, str, str], Operator] = {
    (name, o.input_dtype or "*", o.output_dtype or "*"): o for o in REGISTRY if o.is_variant for name in o.builtins
}


def variant_for(builtin: str, in_dtype: str, out_dtype: str) -> Operator | None:
    """The registry variant of `builtin` for these types, the most specific first; None: no variant."""
    for key in ((builtin, in_dtype, out_dtype), (builtin, in_dtype, "*"), (builtin, "*", out_dtype)):
        if key in BY_VARIANT:
            return BY_VARIANT[key]
    return None


BY_KIND: dict[str, Operator] = {o.kind: o for o in REGISTRY}
assert len(BY_KIND) == len(REGISTRY), "two registry operators share a layer kind"
assert len(BY_BUILTIN) + len(BY_VARIANT) == sum(len(o.builtins) for o in REGISTRY), "two operators claim one builtin"
