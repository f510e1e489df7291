"""One-operator SVDF models, written by hand with the test writer (no converter): int8 input, int8 feature
weights, int8 or int16 time weights and state (the variable tensor), an optional int32 bias, int8 output."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import tflite_ops_writer  # noqa: F401  (registers the SVDF options writer)
from tflite_writer import Op, T, build_model

from tinyml_cosim.nn.quant import f32

Q = tuple[float, int]  # (scale, zero point)


@dataclass(frozen=True)
class SvdfSpec:
    """The shapes, types and quantization of one SVDF."""

    batch: int = 1
    input_size: int = 8
    num_filters: int = 6
    rank: int = 2
    memory: int = 5
    state_dtype: str = "int16"  # the state and the time weights ("int8" or "int16")
    q_in: Q = (0.05, -3)
    q_wf: float = 0.01
    q_state: Q = (0.02, 0)
    q_wt: float = 0.004
    q_out: Q = (0.03, 5)
    bias: bool = True
    activation: str = "NONE"
    seed: int = 0

    @property
    def num_units(self) -> int:
        return self.num_filters // self.rank

    @property
    def bias_scale(self) -> float:
        # TFLM's Prepare wants the bias scale within 1e-5 of state scale * time weights scale (in float)
        return f32(np.float32(self.q_state[0]) * np.float32(self.q_wt))


def svdf_weights(spec: SvdfSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded feature weights, time weights and bias (spanning each type's rails)."""
    rng = np.random.default_rng([97, spec.seed])
    wf = rng.integers(-128, 128, (spec.num_filters, spec.input_size)).astype(np.int8)
    lim = 1 << (15 if spec.state_dtype == "int16" else 7)
    wt = rng.integers(-lim, lim, (spec.num_filters, spec.memory)).astype(spec.state_dtype)
    lim_bias = 1 << (26 if spec.state_dtype == "int16" else 12)  # of the time dot products' magnitude
    bias = rng.integers(-lim_bias, lim_bias, spec.num_units).astype(np.int32)
    return wf, wt, bias


def svdf_model(spec: SvdfSpec, weights: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> bytes:
    """x (batch, input_size) -> SVDF -> y (batch, num_units); tensor 4 is the variable state."""
    wf, wt, bias = weights or svdf_weights(spec)
    tensors = [
        T("x", (spec.batch, spec.input_size), "int8", [spec.q_in[0]], [spec.q_in[1]]),
        T("weights_feature", wf.shape, "int8", [spec.q_wf], [0], data=wf),
        T("weights_time", wt.shape, spec.state_dtype, [spec.q_wt], [0], data=wt),
        T("bias", bias.shape, "int32", [spec.bias_scale], [0], data=bias),
        T(
            "state",
            (spec.batch, spec.memory * spec.num_filters),
            spec.state_dtype,
            [spec.q_state[0]],
            [spec.q_state[1]],
            variable=True,
        ),
        T("y", (spec.batch, spec.num_units), "int8", [spec.q_out[0]], [spec.q_out[1]]),
    ]
    options = {"rank": spec.rank, "activation": spec.activation}
    ins = [0, 1, 2, 3 if spec.bias else -1, 4]
    return build_model(tensors, [Op("SVDF", ins, [5], options)], [0], [5])


def balanced(spec: SvdfSpec, state_jitter: float = 1.0, out_jitter: float = 1.0) -> SvdfSpec:
    """`spec` with the state and output scales that keep a typical state value near a third of the state type's
    range and the outputs near 40 (times the jitters), from the shapes and the other scales, so that the state's
    history shows in the outputs instead of the rails."""
    state_spread = 40.0 if spec.state_dtype == "int8" else 10000.0
    wt_spread = 74.0 if spec.state_dtype == "int8" else 19000.0  # the std of uniform time weights
    s_state = spec.q_in[0] * spec.q_wf * 74.0 * 74.0 * float(np.sqrt(spec.input_size)) / state_spread * state_jitter
    s_out = s_state * spec.q_wt * wt_spread * state_spread * float(np.sqrt(spec.memory * spec.rank)) / 40.0
    return replace(spec, q_state=(s_state, spec.q_state[1]), q_out=(s_out * out_jitter, spec.q_out[1]))
