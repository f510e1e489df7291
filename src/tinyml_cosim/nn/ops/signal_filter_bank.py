"""CUSTOM:SignalFilterBank (TFLM's Signal library, signal/src/filter_bank.cc): a triangular (mel) filter bank over a
uint32 energy spectrum into uint64 channel sums. Five constant int16 tables [C + 1]: weights and unweights (indexed
by weight start + j), channel frequency starts, weight starts and widths. Channel i's sum is the weighted energy of
band i + 1 plus the unweighted energy of band i (band 0 only feeds channel 0 through its unweights), all in uint64
arithmetic that wraps (an int16 weight widened to uint64, a negative one modulo 2^64, as C converts it).

Refused: tables that are not constant int16 vectors of num_channels + 1 entries (weights and unweights of one
length), a band that reads past the spectrum or a weight index past the weights (TFLM would read out of bounds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, make_layer
from tinyml_cosim.nn.ops.signal_options import int_range, signal_options
from tinyml_cosim.nn.tflite_reader import RawOperator

TABLES = ("weights", "unweights", "channel_frequency_starts", "channel_weight_starts", "channel_widths")


@dataclass(frozen=True)
class SignalFilterBankParams:
    """cosim_signal_filter_bank_t"""

    num_channels: int
    weights: npt.NDArray[np.int16]
    unweights: npt.NDArray[np.int16]
    channel_frequency_starts: npt.NDArray[np.int16]
    channel_weight_starts: npt.NDArray[np.int16]
    channel_widths: npt.NDArray[np.int16]


def reference(p: SignalFilterBankParams, x: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint64]:
    energy = x.reshape(-1).astype(np.uint64)
    sums = np.zeros(p.num_channels + 1, np.uint64)
    carried = np.uint64(0)
    with np.errstate(over="ignore"):
        for i in range(p.num_channels + 1):
            f, w, n = int(p.channel_frequency_starts[i]), int(p.channel_weight_starts[i]), int(p.channel_widths[i])
            band = energy[f : f + max(n, 0)]
            weighted = np.sum(p.weights[w : w + max(n, 0)].astype(np.int64).astype(np.uint64) * band, dtype=np.uint64)
            sums[i] = carried + weighted
            carried = np.sum(p.unweights[w : w + max(n, 0)].astype(np.int64).astype(np.uint64) * band, dtype=np.uint64)
    return sums[1:]


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    if len(op.inputs) != 6 or len(op.outputs) != 1:
        raise ctx.fail(op, f"{len(op.inputs)} inputs / {len(op.outputs)} outputs, expected 6 (input, 5 tables) / 1")
    channels = signal_options(ctx, op, ("num_channels",))["num_channels"]
    int_range(ctx, op, "num_channels", channels, 1, 32766)
    x = ctx.act_tensor(op, op.inputs[0], "input", "uint32")
    y = ctx.act_tensor(op, op.outputs[0], "output", "uint64")
    if len(x.shape) != 1 or y.shape != (channels,):
        raise ctx.fail(op, f"input {list(x.shape)}, output {list(y.shape)}: expected uint32 [N], uint64 [{channels}]")
    tables: dict[str, np.ndarray] = {}
    for name, index in zip(TABLES, op.inputs[1:], strict=True):
        raw, values = ctx.t(index), ctx.const_values(op, index)
        if values is None or raw.dtype != "int16" or len(raw.shape) != 1:
            raise ctx.fail(op, f"{name} {raw.describe()}: expected a constant int16 vector")
        tables[name] = np.asarray(values, np.int16).reshape(-1)
    for name in TABLES[2:]:
        if tables[name].size != channels + 1:
            raise ctx.fail(op, f"{name} has {tables[name].size} entries, expected num_channels + 1 = {channels + 1}")
    if tables["weights"].size != tables["unweights"].size:
        raise ctx.fail(op, f"weights {tables['weights'].size} / unweights {tables['unweights'].size}: lengths differ")
    for i in range(channels + 1):
        f, w, n = (int(tables[t][i]) for t in TABLES[2:])
        if n > 0 and (f < 0 or w < 0 or f + n > x.elements or w + n > tables["weights"].size):
            raise ctx.fail(op, f"band {i} (start {f}, weights {w}, width {n}) reads past the input or the weights")
    p = SignalFilterBankParams(channels, **tables)
    return make_layer(op, "signal_filter_bank", p, [(x.id, x, None)], y, arrays=tables)


OPERATORS = (
    Operator(
        "signal_filter_bank",
        ("CUSTOM:SignalFilterBank",),
        "cosim_signal_filter_bank_t",
        "cosim_signal_filter_bank",
        "ops/signal_filter_bank.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
