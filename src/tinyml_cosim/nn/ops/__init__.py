"""The operator registry: every operator compiled through nn/ops/ (one module each, see nn/ops/base.py), in one
table. Adding an operator is a module here, its C file(s) and header under firmware/nn/, a line below, and its test
under tests/ops/; graph lowering, the emitter, the numpy golden and the host test build find it here.

The operators that predate the registry (convolutions, pooling, ADD, MUL, MEAN, SOFTMAX, ...) are still lowered in
nn/graph.py; they move here one by one."""

from __future__ import annotations

from tinyml_cosim.nn.ops import (
    abs,
    div,
    gather,
    hard_swish,
    l2_normalization,
    leaky_relu,
    log_softmax,
    minmax,
    prelu,
    quantize_uint8,
    reduce_max,
    reduce_sum,
    relu,
    resize_bilinear,
    resize_nearest_neighbor,
    rsqrt,
    slice,
    space_to_batch_nd,
    space_to_depth,
    squared_difference,
    sub,
    transpose,
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
    # -- operators added later go above this line --
)
BY_BUILTIN: dict[str, Operator] = {name: o for o in REGISTRY for name in o.builtins}
BY_KIND: dict[str, Operator] = {o.kind: o for o in REGISTRY}
assert len(BY_KIND) == len(REGISTRY), "two registry operators share a layer kind"
assert len(BY_BUILTIN) == sum(len(o.builtins) for o in REGISTRY), "two registry operators claim one builtin"
