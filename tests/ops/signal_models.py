"""Models of TFLM's Signal library operators for the kernel tests (written with tests/support/tflite_custom_writer),
and the check every test makes: the lowered graph's numpy golden and the host-built C kernels against tflite-micro,
byte for byte, on each output of the model's first operator chain."""

from __future__ import annotations

from typing import Any

import numpy as np
from hostbuild import run_graph_c
from tflite_custom_writer import custom_model, single_op_model
from tflite_writer import Op, T

from tinyml_cosim.nn.golden import run_tflm
from tinyml_cosim.nn.graph import Graph, lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

__all__ = [
    "AUDIO_PREPROCESSOR_KINDS",
    "SPECTRAL_SUBTRACTION",
    "audio_preprocessor_model",
    "check",
    "filter_bank_tables",
    "front_end_model",
    "single_op_model",
]

# micro_speech's SignalFilterBankSpectralSubtraction options (its audio preprocessor's 40 channels)
SPECTRAL_SUBTRACTION = {
    "alternate_one_minus_smoothing": 15401,
    "alternate_smoothing": 983,
    "clamping": False,
    "min_signal_remaining": 819,
    "num_channels": 40,
    "one_minus_smoothing": 15975,
    "smoothing": 409,
    "smoothing_bits": 10,
    "spectral_subtraction_bits": 14,
}


def check(kernel: tuple[Any, Any], model: bytes, x: np.ndarray, kinds: list[str]) -> tuple[Graph, np.ndarray]:
    """The model's output from tflite-micro, equal to the numpy golden's and the C kernels' (returned with the
    lowered graph, whose layers must be `kinds`)."""
    want = run_tflm(model, x)[0]
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == kinds
    np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want, err_msg="numpy")
    np.testing.assert_array_equal(run_graph_c(*kernel, graph, x).reshape(want.shape), want, err_msg="C")
    return graph, want


def filter_bank_tables(rng: np.random.Generator, bins: int, channels: int, negative: bool = False) -> list[T]:
    """The five int16 tables of a filter bank of `channels` over `bins` energies: bands of random widths (some 0)
    at random starts, weights and unweights summing to 4096 (as a mel bank's), one weight negative when asked."""
    widths = rng.integers(0, max(2, bins // channels + 3), channels + 1).astype(np.int16)
    widths = np.minimum(widths, bins).astype(np.int16)
    starts = np.array([rng.integers(0, bins - w + 1) for w in widths], np.int16)
    weight_starts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int16)
    n = max(int(widths.sum()), 1)
    weights = rng.integers(0, 4097, n).astype(np.int16)
    unweights = (4096 - weights).astype(np.int16)
    if negative:
        weights[0] = -3
    return [
        T("weights", (n,), "int16", data=weights),
        T("unweights", (n,), "int16", data=unweights),
        T("freq_starts", (channels + 1,), "int16", data=starts),
        T("weight_starts", (channels + 1,), "int16", data=weight_starts),
        T("widths", (channels + 1,), "int16", data=widths),
    ]


def front_end_model(rng: np.random.Generator, frame: int = 64, channels: int = 8, upto: str = "log") -> bytes:
    """micro_speech's front end without its FFT (the windowed frame read as `frame / 2` complex bins):
    Window -> FftAutoScale -> Energy -> FilterBank -> FilterBankSquareRoot (the auto scale's bits) -> FilterBankLog,
    int16 [1, frame] in; cut after `upto` ("energy", "filter_bank", "square_root" or "log")."""
    bins = frame // 2
    window = rng.integers(0, 32768, frame).astype(np.int16)
    tensors = [
        T("audio", (1, frame), "int16"),  # 0
        T("window", (frame,), "int16", data=window),  # 1
        T("windowed", (1, frame), "int16"),  # 2
        T("shape", (1,), "int32", data=np.array([frame], np.int32)),  # 3
        T("flat", (frame,), "int16"),  # 4
        T("scaled", (frame,), "int16"),  # 5
        T("scale_bits", (), "int32"),  # 6
        T("energy", (bins,), "uint32"),  # 7
        *filter_bank_tables(rng, bins, channels),  # 8..12
        T("bank", (channels,), "uint64"),  # 13
        T("root", (channels,), "uint32"),  # 14
        T("log", (channels,), "int16"),  # 15
    ]
    ops = [
        Op("CUSTOM:SignalWindow", [0, 1], [2]),
        Op("RESHAPE", [2, 3], [4], {"new_shape": [frame]}),
        Op("CUSTOM:SignalFftAutoScale", [4], [5, 6]),
        Op("CUSTOM:SignalEnergy", [5], [7]),
        Op("CUSTOM:SignalFilterBank", [7, 8, 9, 10, 11, 12], [13]),
        Op("CUSTOM:SignalFilterBankSquareRoot", [13, 6], [14]),
        Op("CUSTOM:SignalFilterBankLog", [14], [15]),
    ]
    options = {
        0: {"shift": 12},
        2: {},
        3: {"end_index": bins, "start_index": 0},
        4: {"num_channels": channels},
        5: {},
        6: {"input_correction_bits": 3, "output_scale": 64},
    }
    last = {"energy": 4, "filter_bank": 5, "square_root": 6, "log": 7}[upto]
    output = ops[last - 1].outputs[0]
    return custom_model(tensors, ops[:last], [0], [output], {i: o for i, o in options.items() if i < last})


def pcan_gain_lut(strength: float = 0.95, offset: float = 80.0, gain_bits: int = 21, input_bits: int = 7) -> np.ndarray:
    """PCAN's 125-entry gain table as the front end's tooling builds it (micro_speech's parameters by default): the
    gain 2^gain_bits * (x / 2^input_bits + offset)^-strength at 0, 1, 2, then per leading bit i from 2 to 32 a
    quadratic through the gains at 2^(i-1), 1.5 * 2^(i-1) and 2^i (value, linear, quadratic coefficient, unused)."""

    def gain(x: float) -> int:
        g = (1 << gain_bits) * (x / (1 << input_bits) + offset) ** -strength
        return min(int(g + 0.5), 32767)

    lut = np.zeros(125, np.int64)
    lut[:3] = [gain(0), gain(1), gain(2)]
    for i in range(2, 33):
        x0 = float(1 << (i - 1))
        y0, y1, y2 = gain(x0), gain(x0 * 1.5), gain(x0 * 2)
        a1 = 4 * (y1 - y0) - (y2 - y0)
        lut[4 * i - 6 : 4 * i - 3] = [y0, a1, (y2 - y0) - a1]
    return lut.astype(np.int16)


def audio_preprocessor_model(rng: np.random.Generator, frame: int = 100, fft: int = 128, channels: int = 16) -> bytes:
    """A model of micro_speech's audio preprocessor's structure with tables of its own: Window -> FftAutoScale ->
    Rfft -> Energy (a band of bins) -> CAST / STRIDED_SLICE / CONCATENATION with zeros / CAST -> FilterBank ->
    FilterBankSquareRoot -> FilterBankSpectralSubtraction (state) -> PCAN -> FilterBankLog -> int32 scaling ->
    CAST to int8 (unquantized, as micro_speech's: (log * 256 + 333) / 666 - 128, clamped). int16 [1, frame] in,
    int8 [channels] out."""
    bins, lo, hi = fft // 2 + 1, 3, fft // 2 - 6
    lut = pcan_gain_lut()
    hann = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame) / frame)) * 4096  # Q12, as micro_speech's (shift 12)

    def scalar(v: int) -> np.ndarray:
        return np.array(v, np.int32)

    tensors = [
        T("audio", (1, frame), "int16"),  # 0
        T("window", (frame,), "int16", data=hann.astype(np.int16)),
        T("windowed", (1, frame), "int16"),
        T("shape", (1,), "int32", data=np.array([frame], np.int32)),
        T("flat", (frame,), "int16"),
        T("scaled", (frame,), "int16"),  # 5
        T("scale_bits", (), "int32"),
        T("spectrum", (2 * bins,), "int16"),
        T("energy", (bins,), "uint32"),
        T("energy_i", (bins,), "int32"),
        *(T(n, (1,), "int32", data=np.array([v], np.int32)) for n, v in (("b", lo), ("e", hi), ("s", 1))),  # 10..12
        T("band", (hi - lo,), "int32"),
        T("z0", (lo,), "int32", data=np.zeros(lo, np.int32)),
        T("z1", (bins - hi,), "int32", data=np.zeros(bins - hi, np.int32)),  # 15
        T("padded", (bins,), "int32"),
        T("padded_u", (bins,), "uint32"),
        *filter_bank_tables(rng, bins, channels),  # 18..22
        T("bank", (channels,), "uint64"),
        T("root", (channels,), "uint32"),
        T("clean", (channels,), "uint32"),  # 25
        T("noise", (channels,), "uint32"),
        T("lut", (125,), "int16", data=lut),
        T("gained", (channels,), "uint32"),
        T("log", (channels,), "int16"),
        T("log_i", (channels,), "int32"),  # 30
        *(T(f"c{v}", (), "int32", data=scalar(v)) for v in (256, 333, 666, -128, 127)),  # 31..35: micro_speech's
        *(T(f"t{k}", (channels,), "int32") for k in range(6)),  # 36..41
        T("features", (channels,), "int8"),  # 42
    ]
    ops = [
        Op("CUSTOM:SignalWindow", [0, 1], [2]),
        Op("RESHAPE", [2, 3], [4], {"new_shape": [frame]}),
        Op("CUSTOM:SignalFftAutoScale", [4], [5, 6]),
        Op("CUSTOM:SignalRfft", [5], [7]),
        Op("CUSTOM:SignalEnergy", [7], [8]),
        Op("CAST", [8], [9]),  # 5
        Op("STRIDED_SLICE", [9, 10, 11, 12], [13]),
        Op("CONCATENATION", [14, 13, 15], [16], {"axis": 0, "activation": "NONE"}),
        Op("CAST", [16], [17]),
        Op("CUSTOM:SignalFilterBank", [17, 18, 19, 20, 21, 22], [23]),
        Op("CUSTOM:SignalFilterBankSquareRoot", [23, 6], [24]),  # 10
        Op("CUSTOM:SignalFilterBankSpectralSubtraction", [24], [25, 26]),
        Op("CUSTOM:SignalPCAN", [25, 26, 27], [28]),
        Op("CUSTOM:SignalFilterBankLog", [28], [29]),
        Op("CAST", [29], [30]),
        Op("MUL", [30, 31], [36], {"activation": "NONE"}),  # 15
        Op("ADD", [36, 32], [37], {"activation": "NONE"}),
        Op("DIV", [37, 33], [38], {"fused_activation_function": 0}),
        Op("ADD", [38, 34], [39], {"activation": "NONE"}),
        Op("MINIMUM", [39, 35], [40]),
        Op("MAXIMUM", [40, 34], [41]),  # 20
        Op("CAST", [41], [42]),
    ]
    options = {
        0: {"shift": 12},
        2: {},
        3: {"T": 7, "fft_length": fft},
        4: {"end_index": hi, "start_index": lo},
        9: {"num_channels": channels},
        10: {},
        11: {**SPECTRAL_SUBTRACTION, "num_channels": channels},
        12: {"snr_shift": 6},
        13: {"input_correction_bits": 3, "output_scale": 64},
    }
    return custom_model(tensors, ops, [0], [42], options)


AUDIO_PREPROCESSOR_KINDS = [
    "signal_window", "signal_fft_auto_scale_bits", "signal_fft_auto_scale", "signal_rfft", "signal_energy",
    "cast_u32", "strided_slice_s32", "concat_s32_3", "cast_u32", "signal_filter_bank",
    "signal_filter_bank_square_root", "signal_spectral_subtraction", "signal_pcan", "signal_filter_bank_log", "cast",
    "mul_s32", "add_s32", "div_s32", "add_s32", "minimum_s32", "maximum_s32", "cast",
]  # fmt: skip
