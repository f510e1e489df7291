"""One-operator UNIDIRECTIONAL_SEQUENCE_LSTM models written by hand with the test writer (no converter), laid out as
the TFLite converter writes a Keras LSTM under full-integer quantization: int8 input and output, int8 per-tensor
weights (zero point 0), int32 biases at input scale x weight scale, an int8 hidden state and an int16 cell state
(a power-of-two scale) as variable tensors, and the five intermediates the quantizer adds (four int16 gate
scales and the int8 effective hidden scale), which tflite-micro's int8 kernel does not read.

The 24 inputs are in lstm_shared.h's order: 0 input; 1-4 input-to-{input, forget, cell, output} weights; 5-8
recurrent-to-{input, forget, cell, output} weights; 9-11 peepholes; 12-15 gate biases; 16-17 projection;
18 hidden state; 19 cell state; 20-23 layer-norm coefficients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import tflite_ops_writer  # noqa: F401  (registers the UNIDIRECTIONAL_SEQUENCE_LSTM options writer)
from tflite_writer import Op, T, build_model

from tinyml_cosim.nn.quant import f32

Q = tuple[float, int]  # (scale, zero point)
GATES = ("input", "forget", "cell", "output")
# The LSTM variants a converter can write; tflite-micro's int8 kernel refuses all of them (tests check we do too).
VARIANTS = ("cifg", "peephole", "projection", "layer_norm")


@dataclass(frozen=True)
class LstmSpec:
    """The shapes, quantization and options of one LSTM layer."""

    n_input: int = 6
    n_cell: int = 5
    time_steps: int = 4
    batch: int = 1
    time_major: bool = False
    q_in: Q = (0.04, -5)
    q_hidden: Q = (1 / 128, 3)  # the hidden state's and the output's: a tanh x sigmoid product in [-1, 1]
    cell_scale_log2: float = -11  # the cell state's scale is 2^this (the converter picks an integer power)
    gain: float = 1.0  # typical |gate pre-activation| (in units of the Q3.12 gate scale's range / 8)
    cell_clip: float = 0.0
    proj_clip: float = 0.0
    activation: str = "TANH"
    asymmetric_quantize_inputs: bool = False
    variants: tuple[str, ...] = ()  # members of VARIANTS: write those tensors too (refused)
    weight_zero_point: int = 0
    seed: int = 0
    # overrides: the i-th of the 8 weight scales, or None for the derived one
    weight_scales: tuple[float | None, ...] = field(default=(None,) * 8)
    # "int16": the 16x8 LSTM (int16 input, hidden state and output, int64 biases; q_in / q_hidden of int16 values)
    act_dtype: str = "int8"

    @property
    def bias_dtype(self) -> str:
        return "int32" if self.act_dtype == "int8" else "int64"

    @property
    def typical(self) -> float:
        """A typical |value| of uniform random activations (and of int8 weights): the scales are derived from it."""
        return 74.0 if self.act_dtype == "int8" else 74.0 * 256

    @property
    def n_output(self) -> int:
        return self.n_cell

    @property
    def x_shape(self) -> tuple[int, int, int]:
        lead = (self.time_steps, self.batch) if self.time_major else (self.batch, self.time_steps)
        return (*lead, self.n_input)

    @property
    def y_shape(self) -> tuple[int, int, int]:
        return (*self.x_shape[:2], self.n_output)

    def scales(self) -> list[float]:
        """The 8 weight scales: a seeded spread around what keeps the gate pre-activations near `gain`."""
        rng = np.random.default_rng([131, self.seed])
        out = []
        for i in range(8):
            n, s = (self.n_input, self.q_in[0]) if i < 4 else (self.n_output, self.q_hidden[0])
            derived = self.gain * 2.0 / (math.sqrt(n) * self.typical * 74.0 * s) * float(rng.uniform(0.5, 1.5))
            given = self.weight_scales[i]
            out.append(f32(derived if given is None else given))
        return out


@dataclass(frozen=True)
class LstmWeights:
    input_w: tuple[np.ndarray, ...]  # 4 x (n_cell, n_input) int8, in GATES order
    recurrent_w: tuple[np.ndarray, ...]  # 4 x (n_cell, n_output) int8
    bias: tuple[np.ndarray, ...]  # 4 x (n_cell,) int32 (int64 for the 16x8 LSTM)


def lstm_weights(spec: LstmSpec) -> LstmWeights:
    """Seeded int8 weights over the whole int8 range and int32 biases of about +-1.5 gate units."""
    rng = np.random.default_rng([137, spec.seed])
    iw = tuple(rng.integers(-128, 128, (spec.n_cell, spec.n_input)).astype(np.int8) for _ in GATES)
    rw = tuple(rng.integers(-128, 128, (spec.n_cell, spec.n_output)).astype(np.int8) for _ in GATES)
    scales = spec.scales()
    bias = []
    for g in range(4):
        bias_scale = f32(np.float32(spec.q_in[0]) * np.float32(scales[g]))
        lim = max(1, int(1.5 / bias_scale))
        bias.append(rng.integers(-lim, lim + 1, spec.n_cell).astype(spec.bias_dtype))
    return LstmWeights(iw, rw, tuple(bias))


def _intermediates(spec: LstmSpec) -> list[T]:
    # What the quantizer writes (shape [0], no data): each gate's calibrated int16 scale, the effective hidden scale
    gates = [T(f"intermediate_{g}", (0,), "int16", [f32(2.0**-12 * (1 + i / 8))], [0]) for i, g in enumerate(GATES)]
    hidden = T("effective_hidden", (0,), spec.act_dtype, [f32(spec.q_hidden[0] * 1.1)], [spec.q_hidden[1]])
    return [*gates, hidden]


def lstm_tensors(spec: LstmSpec, w: LstmWeights) -> tuple[list[T], list[int], list[int]]:
    """The model's tensors, the operator's 24 inputs (-1: absent) and its intermediates."""
    scales = spec.scales()
    sx, zx = spec.q_in
    sh, zh = spec.q_hidden
    wz = spec.weight_zero_point
    t: list[T] = [T("x", spec.x_shape, spec.act_dtype, [sx], [zx])]
    ins = [0] + [-1] * 23

    def add(slot: int, tensor: T) -> None:
        ins[slot] = len(t)
        t.append(tensor)

    for g, name in enumerate(GATES):
        add(1 + g, T(f"input_to_{name}_w", w.input_w[g].shape, "int8", [scales[g]], [wz], data=w.input_w[g]))
        rec = w.recurrent_w[g]
        add(5 + g, T(f"recurrent_to_{name}_w", rec.shape, "int8", [scales[4 + g]], [wz], data=rec))
        bias_scale = f32(np.float32(sx) * np.float32(scales[g]))
        add(12 + g, T(f"{name}_gate_bias", (spec.n_cell,), spec.bias_dtype, [bias_scale], [0], data=w.bias[g]))
    add(18, T("hidden_state", (spec.batch, spec.n_output), spec.act_dtype, [sh], [zh], variable=True))
    cell_scale = 2.0**spec.cell_scale_log2
    add(19, T("cell_state", (spec.batch, spec.n_cell), "int16", [cell_scale], [0], variable=True))
    _variants(spec, t, ins)
    mids = list(range(len(t), len(t) + 5))
    t.extend(_intermediates(spec))
    t.append(T("y", spec.y_shape, spec.act_dtype, [sh], [zh]))
    return t, ins, mids


def _variants(spec: LstmSpec, t: list[T], ins: list[int]) -> None:
    unknown = set(spec.variants) - set(VARIANTS)
    assert not unknown, unknown
    rng = np.random.default_rng([139, spec.seed])

    def vec(name: str, slot: int, dtype: str, n: int) -> None:
        info = np.iinfo(np.dtype(dtype))
        data = rng.integers(info.min // 2, info.max // 2, n).astype(dtype)
        ins[slot] = len(t)
        t.append(T(name, (n,), dtype, [0.001], [0], data=data))

    if "cifg" in spec.variants:
        ins[1] = ins[5] = ins[12] = -1
    if "peephole" in spec.variants:
        for i, g in enumerate(("input", "forget", "output")):
            vec(f"cell_to_{g}_w", 9 + i, "int16", spec.n_cell)
    if "projection" in spec.variants:
        data = rng.integers(-128, 128, (spec.n_output, spec.n_cell)).astype(np.int8)
        ins[16] = len(t)
        t.append(T("projection_w", data.shape, "int8", [0.01], [0], data=data))
    if "layer_norm" in spec.variants:
        for i, g in enumerate(GATES):
            vec(f"{g}_layer_norm", 20 + i, "int16", spec.n_cell)


def lstm_options(spec: LstmSpec) -> dict[str, object]:
    return {
        "activation": spec.activation,
        "cell_clip": spec.cell_clip,
        "proj_clip": spec.proj_clip,
        "time_major": spec.time_major,
        "asymmetric_quantize_inputs": spec.asymmetric_quantize_inputs,
    }


def lstm_model(spec: LstmSpec, weights: LstmWeights | None = None, **options: object) -> bytes:
    """x -> UNIDIRECTIONAL_SEQUENCE_LSTM -> y (the whole sequence of hidden states); `options` add to or override
    the spec's options table (diagonal_recurrent_tensors, ...)."""
    t, ins, mids = lstm_tensors(spec, weights or lstm_weights(spec))
    op = Op("UNIDIRECTIONAL_SEQUENCE_LSTM", ins, [len(t) - 1], {**lstm_options(spec), **options}, intermediates=mids)
    return build_model(t, [op], [0], [len(t) - 1])


def with_(spec: LstmSpec, **changes: object) -> LstmSpec:
    """`spec` with some fields changed (dataclasses.replace, typed loosely for the tests' parametrisation)."""
    return replace(spec, **changes)  # type: ignore[arg-type]
