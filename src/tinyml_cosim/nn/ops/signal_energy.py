"""CUSTOM:SignalEnergy (TFLM's Signal library, signal/micro/kernels/energy.cc): the energy re^2 + im^2 of the bins
start_index..end_index-1 of a complex int16 spectrum (int16 [2N], (re, im) pairs) into uint32 [N].

TFLM leaves the output's other bins as they are (whatever the arena held): this kernel writes 0 there, so a model
that reads them (none the converter writes: they are sliced off next) differs from TFLM only in bytes TFLM leaves
undefined. Refused: a range outside 0 <= start_index <= end_index <= N, an output that is not N uint32 bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tinyml_cosim.nn.ir import Layer
from tinyml_cosim.nn.ops.base import Lowering, Operator, make_layer
from tinyml_cosim.nn.ops.signal_options import signal_options
from tinyml_cosim.nn.tflite_reader import RawOperator


@dataclass(frozen=True)
class SignalEnergyParams:
    """cosim_signal_energy_t"""

    bins: int  # output elements (complex input values)
    start_index: int
    end_index: int


def reference(p: SignalEnergyParams, x: npt.NDArray[np.int16]) -> npt.NDArray[np.uint32]:
    pairs = x.astype(np.int64).reshape(-1, 2)
    out = np.zeros(p.bins, np.uint32)
    # at most 2 * 2^30: the int32 sum TFLM computes wraps only at (-32768, -32768), to the same uint32 bits
    energy = (pairs[:, 0] ** 2 + pairs[:, 1] ** 2) & 0xFFFFFFFF
    out[p.start_index : p.end_index] = energy[p.start_index : p.end_index].astype(np.uint32)
    return out


def lower(ctx: Lowering, op: RawOperator) -> Layer:
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise ctx.fail(op, f"{len(op.inputs)} inputs / {len(op.outputs)} outputs, expected 1 / 1")
    opts = signal_options(ctx, op, ("start_index", "end_index"))
    x = ctx.act_tensor(op, op.inputs[0], "input", "int16")
    y = ctx.act_tensor(op, op.outputs[0], "output", "uint32")
    if len(x.shape) != 1 or len(y.shape) != 1 or x.elements != 2 * y.elements:
        raise ctx.fail(op, f"input {list(x.shape)}, output {list(y.shape)}: expected int16 [2N] and uint32 [N]")
    start, end = opts["start_index"], opts["end_index"]
    if not 0 <= start <= end <= y.elements:
        raise ctx.fail(op, f"start_index {start}, end_index {end}: expected 0 <= start <= end <= {y.elements}")
    p = SignalEnergyParams(y.elements, start, end)
    return make_layer(op, "signal_energy", p, [(x.id, x, None)], y)


OPERATORS = (
    Operator(
        "signal_energy",
        ("CUSTOM:SignalEnergy",),
        "cosim_signal_energy_t",
        "cosim_signal_energy",
        "ops/signal_energy.h",
        lower,
        lambda layer, xs: reference(layer.prepared, *xs),
    ),
)
