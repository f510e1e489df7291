"""UNIDIRECTIONAL_SEQUENCE_LSTM (int8, int16 cell): the numpy reference and the host-built C kernel vs tflite-micro,
byte for byte, over several invocations of one interpreter (both variable states carry): seeded random shapes
(n_input, n_cell, time steps, batch 1 to 3, time-major or not), inputs at -128 / 127 and weights at the rails
driving the cell state to its int16 rails and the hidden state to its int8 rails, cell clip on and off, coarse and
fine and non-power-of-two cell scales, the options TFLM ignores (proj_clip, asymmetric_quantize_inputs,
diagonal_recurrent_tensors, the intermediates); three invocations through the compiler's model.c without reset; and
the refusals (CIFG, peephole, projection, layer norm, activations, types, shapes)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import build_library, load, run_graph_c
from hostops import load_op
from lstm_models import LstmSpec, LstmWeights, lstm_model, lstm_options, lstm_tensors, lstm_weights
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.compiler import compile_model
from tinyml_cosim.nn.golden import tflm_available
from tinyml_cosim.nn.graph import Graph, lower_model
from tinyml_cosim.nn.ops import lstm
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("lstm", Path(tmp_path_factory.mktemp("op_lstm")))


def tflm_invocations(model: bytes, xs: list[np.ndarray]) -> list[np.ndarray]:
    """One tflite-micro interpreter invoked once per input: its states carry from one to the next."""
    from tflite_micro import runtime as rt  # optional and heavy: only where the golden is asked for

    interp = rt.Interpreter.from_bytes(model, arena_size=256 * 1024)
    outs = []
    for x in xs:
        interp.set_input(x, 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0)))
    return outs


def inputs(spec: LstmSpec, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng([151, seed])
    return [rng.integers(-128, 128, spec.x_shape).astype(np.int8) for _ in range(n)]


def graph_of(model: bytes) -> Graph:
    return lower_model(parse_tflite(model, Path("lstm.tflite")))


def check(kernel: tuple[Any, Any], model: bytes, xs: list[np.ndarray]) -> tuple[list[np.ndarray], dict[int, Any]]:
    """Every invocation's output of the numpy reference and of the C kernel equals tflite-micro's, and both end with
    the same states. Returns TFLM's outputs and the numpy states after the last invocation."""
    wants = tflm_invocations(model, xs)
    graph = graph_of(model)
    assert [layer.kind for layer in graph.layers] == ["lstm"]
    ref_state: dict[int, Any] = {}
    c_state: dict[int, Any] = {}
    for k, (x, want) in enumerate(zip(xs, wants, strict=True)):
        got = run_graph(graph, x, state=ref_state)
        np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"numpy, invocation {k}")
        got_c = run_graph_c(*kernel, graph, x, state=c_state)
        np.testing.assert_array_equal(got_c.reshape(want.shape), want, err_msg=f"C, invocation {k}")
        for t, v in ref_state.items():
            np.testing.assert_array_equal(np.asarray(c_state[t]).reshape(-1), v.reshape(-1), err_msg=f"state {t}")
    return wants, ref_state


def random_spec(seed: int) -> LstmSpec:
    rng = np.random.default_rng([157, seed])
    return LstmSpec(
        n_input=int(rng.integers(1, 25)),
        n_cell=int(rng.integers(1, 21)),
        time_steps=int(rng.integers(1, 9)),
        batch=int(rng.integers(1, 4)),
        time_major=bool(seed % 2),
        q_in=(float(10 ** rng.uniform(-2.5, -0.5)), int(rng.integers(-128, 128))),
        q_hidden=(float(10 ** rng.uniform(-2.5, -1.5)), int(rng.integers(-100, 100))),
        cell_scale_log2=int(rng.integers(-15, -8)),
        gain=float(10 ** rng.uniform(-0.5, 0.8)),
        cell_clip=(0.0, 0.7, 3.0)[seed % 3],
        seed=seed,
    )


@needs_tflm
@pytest.mark.parametrize("seed", range(16))
def test_lstm_seeded_shapes_over_three_invocations(kernel: tuple[Any, Any], seed: int) -> None:
    spec = random_spec(seed)
    wants, _ = check(kernel, lstm_model(spec), inputs(spec, 3, seed))
    assert len({w.tobytes() for w in wants}) > 1, "the inputs (and the carried state) should change the outputs"


def rail_weights(spec: LstmSpec) -> LstmWeights:
    """Every weight at -128 or 127 (the seeded ones' signs), biases at +-2^20."""
    w = lstm_weights(spec)

    def rail(a: np.ndarray) -> np.ndarray:
        return np.where(a >= 0, 127, -128).astype(np.int8)

    bias = tuple(np.where(b >= 0, 1 << 20, -(1 << 20)).astype(np.int32) for b in w.bias)
    return LstmWeights(tuple(map(rail, w.input_w)), tuple(map(rail, w.recurrent_w)), bias)


RAILS: list[tuple[str, LstmSpec]] = [
    ("cell_saturates_fine_scale", LstmSpec(cell_scale_log2=-15, gain=6.0, time_steps=6)),
    ("cell_saturates_clip_off_time_major_batch_2", LstmSpec(cell_scale_log2=-15, gain=6.0, time_major=True, batch=2)),
    ("cell_clip_at_int16_max", LstmSpec(cell_scale_log2=-15, gain=6.0, cell_clip=100.0)),
    ("cell_clip_below_one_step", LstmSpec(cell_scale_log2=-13, gain=4.0, cell_clip=0.05)),
    ("coarse_cell_scale_2^-2", LstmSpec(cell_scale_log2=-2, gain=3.0)),
    ("hidden_zp_-128", LstmSpec(q_hidden=(1 / 256, -128), gain=3.0)),
    ("hidden_zp_127_small_scale", LstmSpec(q_hidden=(1 / 512, 127), gain=3.0)),
    ("input_zp_-128_one_unit", LstmSpec(q_in=(0.1, -128), n_cell=1, n_input=1)),
    ("input_zp_127", LstmSpec(q_in=(0.05, 127), gain=2.0)),
]


@needs_tflm
@pytest.mark.parametrize(("name", "spec"), RAILS, ids=[r[0] for r in RAILS])
def test_lstm_rails(kernel: tuple[Any, Any], name: str, spec: LstmSpec) -> None:
    xs = [np.full(spec.x_shape, v, np.int8) for v in (127, -128, 127)] + inputs(spec, 1, len(name))
    check(kernel, lstm_model(spec), xs)
    wants, state = check(kernel, lstm_model(spec, rail_weights(spec)), xs)
    if "saturates" in name:  # the int16 cell state reached its rails
        cell = np.concatenate([v.reshape(-1) for v in state.values() if v.dtype == np.int16])
        assert (np.abs(cell.astype(np.int32)) >= 32767).any(), cell
    if name.startswith("hidden_"):  # and the int8 hidden state (the output) its own
        assert any(((w == 127) | (w == -128)).any() for w in wants), wants


@needs_tflm
def test_lstm_cell_clip_changes_the_result_and_matches(kernel: tuple[Any, Any]) -> None:
    spec = LstmSpec(cell_scale_log2=-13, gain=4.0, time_steps=6, seed=9)
    xs = inputs(spec, 2, 9)
    free, _ = check(kernel, lstm_model(spec), xs)
    clipped, state = check(kernel, lstm_model(replace(spec, cell_clip=0.3)), xs)
    assert any(not np.array_equal(a, b) for a, b in zip(free, clipped, strict=True))
    bound = lstm.quantized_cell_clip(0.3, 2.0**-13)
    cell = next(v for v in state.values() if v.dtype == np.int16)
    assert bound == int(0.3 * 2**13) and np.abs(cell.astype(np.int32)).max() <= bound


@needs_tflm
@pytest.mark.parametrize(("log2", "power"), [(-11.3, -11), (-9.6, -10), (-14.5, -15)])
def test_lstm_non_power_of_two_cell_scale_as_tflm_rounds_it(kernel: tuple[Any, Any], log2: float, power: int) -> None:
    """TFLM's CheckedLog2 rounds the log2 (a tie away from zero) and does not check it is exact."""
    spec = LstmSpec(cell_scale_log2=log2, gain=2.0, seed=4)
    check(kernel, lstm_model(spec), inputs(spec, 2, 4))
    assert lstm.cell_scale_power(2.0**log2) == power


@needs_tflm
def test_lstm_options_and_tensors_tflm_does_not_read(kernel: tuple[Any, Any]) -> None:
    """proj_clip, asymmetric_quantize_inputs (hybrid only), diagonal_recurrent_tensors, a nonzero weights zero point
    (an offset TFLM applies), the intermediates' scales: bit-exact; the first three change nothing."""
    spec = LstmSpec(gain=2.0, seed=6)
    xs = inputs(spec, 2, 6)
    plain, _ = check(kernel, lstm_model(spec), xs)
    for model in (
        lstm_model(replace(spec, proj_clip=0.25, asymmetric_quantize_inputs=True)),
        lstm_model(spec, diagonal_recurrent_tensors=True),
    ):
        same, _ = check(kernel, model, xs)
        assert all(np.array_equal(a, b) for a, b in zip(plain, same, strict=True))
    check(kernel, lstm_model(replace(spec, weight_zero_point=-3)), xs)


@needs_tflm
def test_lstm_three_invocations_through_the_compiler_without_reset(tmp_path: Path) -> None:
    spec = LstmSpec(n_input=7, n_cell=6, time_steps=3, batch=2, time_major=True, gain=2.0, cell_clip=2.0, seed=12)
    path = tmp_path / "lstm.tflite"
    path.write_bytes(lstm_model(spec))
    xs = inputs(spec, 3, 12)
    wants = tflm_invocations(path.read_bytes(), xs)
    assert len({w.tobytes() for w in wants}) == 3
    cm = compile_model(path, load_board("stm32f405"), tmp_path / "out")
    text = (tmp_path / "out" / "model.c").read_text()
    assert re.search(r"static const int8_t L0_recurrent_to_cell_w\[36\]", text)
    assert re.search(r"static const int32_t L0_output_gate_bias\[6\]", text)
    assert "cosim_lstm_s8(&L0, (const int8_t *)(A + " in text
    lib_path = build_library(tmp_path / "libmodel.so", [tmp_path / "out" / "model.c"], include_dirs=[tmp_path / "out"])
    ffi, lib = load(lib_path, True)
    arena = ffi.new("uint8_t[]", cm.arena_bytes + 16)
    aligned = ffi.cast("uint8_t *", arena) + (-int(ffi.cast("uintptr_t", arena)) % 16)
    assert lib.cosim_model_reset(aligned) == 0  # once, as the model runner does
    for k, (x, want) in enumerate(zip(xs, wants, strict=True)):
        out = np.zeros(want.size, np.int8)
        assert lib.cosim_model_invoke(aligned, ffi.from_buffer(np.ascontiguousarray(x)), ffi.from_buffer(out)) == 0
        np.testing.assert_array_equal(out.reshape(want.shape), want, err_msg=f"model.c, invocation {k}")


def _broken(spec: LstmSpec, edit: Callable[[list[T], list[int]], None], **options: Any) -> bytes:
    """The LSTM model of `spec` with its tensors or operator inputs edited."""
    tensors, ins, mids = lstm_tensors(spec, lstm_weights(spec))
    edit(tensors, ins)
    op = Op(LSTM, ins, [len(tensors) - 1], {**lstm_options(spec), **options}, intermediates=mids)
    return build_model(tensors, [op], [0], [len(tensors) - 1])


def _set(slot: int, **changes: Any) -> Callable[[list[T], list[int]], None]:
    def edit(tensors: list[T], ins: list[int]) -> None:
        tensors[ins[slot]] = replace(tensors[ins[slot]], **changes)

    return edit


def _output(**changes: Any) -> Callable[[list[T], list[int]], None]:
    def edit(tensors: list[T], ins: list[int]) -> None:
        tensors[-1] = replace(tensors[-1], **changes)

    return edit


def _none(tensors: list[T], ins: list[int]) -> None:
    pass


def _drop(slot: int) -> Callable[[list[T], list[int]], None]:
    def edit(tensors: list[T], ins: list[int]) -> None:
        del ins[slot]

    return edit


S = LstmSpec()
REFUSALS: list[tuple[str, bytes, str]] = [
    ("cifg", _broken(replace(S, variants=("cifg",)), _none), "CIFG (no input gate)"),
    ("peephole", _broken(replace(S, variants=("peephole",)), _none), "peephole tensors: TFLM's int8 LSTM runs"),
    ("projection", _broken(replace(S, variants=("projection",)), _none), "projection tensors"),
    ("layer_norm", _broken(replace(S, variants=("layer_norm",)), _none), "layer normalisation tensors"),
    ("act_none", _broken(S, _none, activation="NONE"), "fused_activation_function NONE: TFLM's LSTM takes TANH"),
    ("act_relu", _broken(S, _none, activation="RELU"), "fused_activation_function RELU"),
    ("23_inputs", _broken(S, _drop(23)), "23 inputs: TFLM's UNIDIRECTIONAL_SEQUENCE_LSTM takes 24"),
    ("int16_input", _broken(S, _set(0, dtype="int16")), "is int16, expected int8"),
    ("hidden_not_variable", _broken(S, _set(18, variable=False)), "is not marked variable"),
    ("cell_int8", _broken(S, _set(19, dtype="int8")), "expected int16"),
    ("cell_zero_point", _broken(S, _set(19, zero_points=[4])), "needs one scale and zero point 0"),
    ("hidden_1d", _broken(S, _set(18, shape=(5,))), "TFLM reads the units from its dimension 1"),
    ("weights_per_channel", _broken(S, _set(2, scales=[0.01] * 5, zero_points=[0] * 5)), "not per-tensor"),
    ("weights_not_const", _broken(S, _set(3, data=None)), "must be an int8 constant"),
    ("weights_shape", _broken(S, _set(6, shape=(5, 4), data=np.zeros((5, 4), np.int8))), "should be [5, 5]"),
    ("bias_int8", _broken(S, _set(13, dtype="int8", data=np.zeros(5, np.int8))), "must be an int32 constant"),
    ("output_shape", _broken(S, _output(shape=(1, 4, 6))), "output shape [1, 4, 6] should be [1, 4, 5]"),
    ("cell_scale_too_coarse", _broken(replace(S, cell_scale_log2=3), _none), "is too coarse"),
]


@pytest.mark.parametrize(("name", "model", "fragment"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_lstm_refusals(name: str, model: bytes, fragment: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(model)
    with pytest.raises(BadInput) as err:
        lower_model(parse_tflite(model, path))
    msg = str(err.value)
    assert msg.startswith(f"{path}: operator ") and fragment in msg and "\n" not in msg, msg
