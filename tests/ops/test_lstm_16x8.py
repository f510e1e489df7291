"""UNIDIRECTIONAL_SEQUENCE_LSTM 16x8 (int16 activations and hidden state, int8 weights, int64 biases, int16 cell):
the numpy reference and the host-built C kernel vs tflite-micro, byte for byte, over several invocations of one
interpreter (both variable states carry): seeded random shapes (n_input, n_cell, time steps, batch 1 to 3,
time-major or not, input and hidden zero points), inputs at the int16 rails and weights at the int8 rails driving the
cell and the hidden state to their rails, int64 biases beyond int32, cell clip, coarse / fine / non-power-of-two cell
scales, gate multipliers at the 64-bit requantization's edges (the saturated 16-bit multiplier, the largest shift);
three invocations through model.c without reset; one model in QEMU; and the refusals (the variants TFLM refuses
too, types, biases, multipliers)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import build_library, cmsis_nn_dir, load, run_graph_c
from hostc import build_shared, load_shared
from hostops import NN, op_header_cdef, ref_sources
from lstm_models import LstmSpec, LstmWeights, lstm_model, lstm_options, lstm_tensors, lstm_weights
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.compiler import compile_model
from tinyml_cosim.nn.golden import run_tflm, run_tflm_sequence, tflm_available
from tinyml_cosim.nn.graph import Graph, lower_model
from tinyml_cosim.nn.ops import lstm
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
needs_qemu = pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"
# int16 activations: the input around +-8, the hidden state (a tanh x sigmoid product) in [-1, 1]
S16 = LstmSpec(act_dtype="int16", q_in=(2.0**-12, 0), q_hidden=(2.0**-15, 0), gain=2.0)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    out = Path(tmp_path_factory.mktemp("op_lstm_16x8")) / "libcosim_op_lstm_16x8.so"
    # the 64-bit requantization is conv_16x8.c's (cosim_requant_16x8, declared in ops/conv_16x8.h)
    sources = [*ref_sources("lstm_16x8"), NN / "ref" / "conv_16x8.c"]
    return load_shared(build_shared(out, sources, [NN / "include", NN / "ref"]), op_header_cdef("lstm_16x8"))


def inputs(spec: LstmSpec, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng([163, seed])
    return [rng.integers(-32768, 32768, spec.x_shape).astype(np.int16) for _ in range(n)]


def graph_of(model: bytes) -> Graph:
    return lower_model(parse_tflite(model, Path("lstm_16x8.tflite")))


def check(kernel: tuple[Any, Any], model: bytes, xs: list[np.ndarray]) -> tuple[list[np.ndarray], dict[int, Any]]:
    """Every invocation's output of the numpy reference and of the C kernel equals tflite-micro's (one interpreter
    invoked in a row), and both end with the same states. Returns TFLM's outputs and the final numpy states."""
    wants = [outs[0] for outs in run_tflm_sequence(model, xs)]
    graph = graph_of(model)
    assert [layer.kind for layer in graph.layers] == ["lstm_16x8"]
    ref_state: dict[int, Any] = {}
    c_state: dict[int, Any] = {}
    for k, (x, want) in enumerate(zip(xs, wants, strict=True)):
        assert want.dtype == np.int16
        got = run_graph(graph, x, state=ref_state)
        np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"numpy, invocation {k}")
        got_c = run_graph_c(*kernel, graph, x, state=c_state)
        np.testing.assert_array_equal(got_c.reshape(want.shape), want, err_msg=f"C, invocation {k}")
        for t, v in ref_state.items():
            np.testing.assert_array_equal(np.asarray(c_state[t]).reshape(-1), v.reshape(-1), err_msg=f"state {t}")
    return wants, ref_state


def cell_state(model: bytes, state: dict[int, Any]) -> np.ndarray:
    """The cell state's values in `state` (tensor id -> values) after a run of `model`."""
    graph = graph_of(model)
    return np.asarray(state[next(t.id for t in graph.tensors.values() if t.variable and t.name == "cell_state")])


def random_spec(seed: int) -> LstmSpec:
    rng = np.random.default_rng([167, seed])
    zero_points = seed % 4 == 3  # TFLM applies int16 zero points too (converters write 0)
    return replace(
        S16,
        n_input=int(rng.integers(1, 25)),
        n_cell=int(rng.integers(1, 21)),
        time_steps=int(rng.integers(1, 9)),
        batch=int(rng.integers(1, 4)),
        time_major=bool(seed % 2),
        q_in=(float(2.0 ** rng.uniform(-15, -9)), int(rng.integers(-3000, 3000)) if zero_points else 0),
        q_hidden=(float(2.0 ** rng.uniform(-15.5, -13)), int(rng.integers(-3000, 3000)) if zero_points else 0),
        cell_scale_log2=int(rng.integers(-15, -8)),
        gain=float(10 ** rng.uniform(-0.5, 0.8)),
        cell_clip=(0.0, 0.7, 3.0)[seed % 3],
        seed=seed,
    )


@needs_tflm
@pytest.mark.parametrize("seed", range(12))
def test_lstm_16x8_seeded_shapes_over_three_invocations(kernel: tuple[Any, Any], seed: int) -> None:
    spec = random_spec(seed)
    wants, _ = check(kernel, lstm_model(spec), inputs(spec, 3, seed))
    assert len({w.tobytes() for w in wants}) > 1, "the inputs (and the carried state) should change the outputs"


def rail_weights(spec: LstmSpec, bias: int) -> LstmWeights:
    """Every weight at -128 or 127 (the seeded ones' signs), biases at +-`bias` (beyond int32 when large)."""
    w = lstm_weights(spec)

    def rail(a: np.ndarray) -> np.ndarray:
        return np.where(a >= 0, 127, -128).astype(np.int8)

    biases = tuple(np.where(b >= 0, bias, -bias).astype(np.int64) for b in w.bias)
    return LstmWeights(tuple(map(rail, w.input_w)), tuple(map(rail, w.recurrent_w)), biases)


RAILS: list[tuple[str, LstmSpec]] = [
    ("cell_saturates_fine_scale", replace(S16, cell_scale_log2=-15, gain=6.0, time_steps=6)),
    ("cell_saturates_time_major_batch_2", replace(S16, cell_scale_log2=-15, gain=6.0, time_major=True, batch=2)),
    ("cell_clip_at_int16_max", replace(S16, cell_scale_log2=-15, gain=6.0, cell_clip=100.0)),
    ("cell_clip_below_one_step", replace(S16, cell_scale_log2=-13, gain=4.0, cell_clip=0.05)),
    ("coarse_cell_scale_2^-2", replace(S16, cell_scale_log2=-2, gain=3.0)),
    ("hidden_saturates_small_scale", replace(S16, q_hidden=(2.0**-17, 0), gain=3.0)),
    ("hidden_zp_-32768", replace(S16, q_hidden=(2.0**-16, -32768), gain=3.0)),
    ("hidden_zp_32767_one_unit", replace(S16, q_hidden=(2.0**-16, 32767), n_cell=1, n_input=1)),
    ("input_zp_-32768", replace(S16, q_in=(2.0**-10, -32768), gain=2.0)),
]


@needs_tflm
@pytest.mark.parametrize(("name", "spec"), RAILS, ids=[r[0] for r in RAILS])
def test_lstm_16x8_rails(kernel: tuple[Any, Any], name: str, spec: LstmSpec) -> None:
    xs = [np.full(spec.x_shape, v, np.int16) for v in (32767, -32768, 32767)] + inputs(spec, 1, len(name))
    check(kernel, lstm_model(spec), xs)
    model = lstm_model(spec, rail_weights(spec, 1 << 20))
    check(kernel, model, xs)
    wants, state = check(kernel, model, xs[:3])  # the state the rails leave
    if name.startswith("cell_saturates"):  # the int16 cell state reached its rails
        cell = cell_state(model, state)
        assert (np.abs(cell.astype(np.int32)) >= 32767).any(), cell
    if name.startswith("hidden_"):  # the int16 hidden state (the output) reached its own
        assert any(((w == 32767) | (w == -32768)).any() for w in wants), wants


@needs_tflm
@pytest.mark.parametrize("bias", [1 << 31, 1 << 40])
def test_lstm_16x8_int64_biases_beyond_int32(kernel: tuple[Any, Any], bias: int) -> None:
    """An int64 bias past int32 (an int32 accumulator would wrap): every gate FC saturates, as TFLM's does."""
    spec = replace(S16, seed=3)
    check(kernel, lstm_model(spec, rail_weights(spec, bias)), inputs(spec, 2, 3))


@needs_tflm
def test_lstm_16x8_cell_clip_changes_the_result_and_matches(kernel: tuple[Any, Any]) -> None:
    spec = replace(S16, cell_scale_log2=-13, gain=4.0, time_steps=6, seed=9)
    xs = inputs(spec, 2, 9)
    free, _ = check(kernel, lstm_model(spec), xs)
    clipped, state = check(kernel, lstm_model(replace(spec, cell_clip=0.3)), xs)
    assert any(not np.array_equal(a, b) for a, b in zip(free, clipped, strict=True))
    bound = lstm.quantized_cell_clip(0.3, 2.0**-13)
    cell = cell_state(lstm_model(spec), state)
    assert bound == int(0.3 * 2**13) and np.abs(cell.astype(np.int32)).max() <= bound


@needs_tflm
@pytest.mark.parametrize("log2", [-11.3, -9.6, -14.5])
def test_lstm_16x8_non_power_of_two_cell_scale(kernel: tuple[Any, Any], log2: float) -> None:
    spec = replace(S16, cell_scale_log2=log2, seed=4)
    check(kernel, lstm_model(spec), inputs(spec, 2, 4))


def _gate_scales(ratio: float) -> tuple[float, ...]:
    """Weight scales making every gate FC's (input or hidden scale) x weight scale / 2^-12 equal to `ratio`."""
    return tuple(ratio * 2.0**-12 / (S16.q_in[0] if i < 4 else S16.q_hidden[0]) for i in range(8))


@needs_tflm
@pytest.mark.parametrize(
    ("ratio", "shift"),
    [
        (2.0**-3 * (1 - 2.0**-20), -3),  # multiplier >= 0x7FFF0000: 64-bit requantization's 16 bits saturate
        (2.0**-8 * (1 + 2.0**-15), -7),  # the multiplier's 16-bit rounding at a tie (low 16 bits 0x8000)
        (2.0**13 * 1.5, 14),  # the largest shift it defines (FC outputs at the rails)
    ],
)
def test_lstm_16x8_gate_multiplier_edges(kernel: tuple[Any, Any], ratio: float, shift: int) -> None:
    spec = replace(S16, weight_scales=_gate_scales(ratio), seed=7)
    graph = graph_of(lstm_model(spec))
    p: lstm.LstmParams = graph.layers[0].prepared
    assert set(p.in_shift) | set(p.rec_shift) == {shift}
    if shift == -3:
        assert min(p.in_mult) >= 0x7FFF0000
    if shift == -7:
        assert {m & 0xFFFF for m in (*p.in_mult, *p.rec_mult)} == {0x8000}
    check(kernel, lstm_model(spec), inputs(spec, 2, 7))


@needs_tflm
def test_lstm_16x8_three_invocations_through_the_compiler_without_reset(tmp_path: Path) -> None:
    spec = replace(S16, n_input=7, n_cell=6, time_steps=3, batch=2, time_major=True, cell_clip=2.0, seed=12)
    path = tmp_path / "lstm_16x8.tflite"
    path.write_bytes(lstm_model(spec))
    xs = inputs(spec, 3, 12)
    wants = [outs[0] for outs in run_tflm_sequence(path, xs)]
    assert len({w.tobytes() for w in wants}) == 3
    cm = compile_model(path, load_board("stm32f405"), tmp_path / "out")
    text = (tmp_path / "out" / "model.c").read_text()
    assert "static const int64_t L0_output_gate_bias[6]" in text
    assert "cosim_lstm_16x8(&L0, (const void *)(A + " in text
    lib_path = build_library(tmp_path / "libmodel.so", [tmp_path / "out" / "model.c"], include_dirs=[tmp_path / "out"])
    ffi, lib = load(lib_path, True)
    arena = ffi.new("uint8_t[]", cm.arena_bytes + 16)
    aligned = ffi.cast("uint8_t *", arena) + (-int(ffi.cast("uintptr_t", arena)) % 16)
    assert lib.cosim_model_reset(aligned) == 0  # once, as the model runner does
    for k, (x, want) in enumerate(zip(xs, wants, strict=True)):
        out = np.zeros(want.size, np.int16)
        assert lib.cosim_model_invoke(aligned, ffi.from_buffer(np.ascontiguousarray(x)), ffi.from_buffer(out)) == 0
        np.testing.assert_array_equal(out.reshape(want.shape), want, err_msg=f"model.c, invocation {k}")


QEMU_SPEC = replace(S16, n_input=10, n_cell=16, time_steps=12, cell_clip=3.0, seed=5)


@needs_tflm
@needs_qemu
@pytest.mark.qemu
@pytest.mark.parametrize("kernels", ["ref", "cmsis-nn"])
def test_lstm_16x8_runs_inputs_in_a_row_in_qemu(kernels: str, tmp_path: Path) -> None:
    """(1, 12 frames, 10 features) int16 -> LSTM 16x8 (16 units): four inputs in a row, the state carried (the
    CMSIS-NN build links the same ref kernel)."""
    from tinyml_cosim.orchestrate.model_check import check_model

    if kernels == "cmsis-nn" and cmsis_nn_dir() is None:
        pytest.skip("CMSIS_NN_DIR is not set to a CMSIS-NN checkout")
    model = tmp_path / "lstm_16x8.tflite"
    model.write_bytes(lstm_model(QEMU_SPEC))
    rep = check_model(model, load_board("stm32f405"), kernels=kernels, vectors=4)
    assert rep["golden"] == "tflite-micro (one interpreter, in a row)", rep["golden"]
    assert rep["run_status"] == "exited" and rep["bit_exact"] is True and rep["mismatched_vectors"] == [], rep
    print("instructions per inference:", rep["instructions_per_inference"], "macs:", rep["macs"])


def _broken(spec: LstmSpec, edit: Callable[[list[T], list[int]], None]) -> bytes:
    tensors, ins, mids = lstm_tensors(spec, lstm_weights(spec))
    edit(tensors, ins)
    op = Op(LSTM, ins, [len(tensors) - 1], lstm_options(spec), intermediates=mids)
    return build_model(tensors, [op], [0], [len(tensors) - 1])


def _set(slot: int, **changes: Any) -> Callable[[list[T], list[int]], None]:
    def edit(tensors: list[T], ins: list[int]) -> None:
        index = len(tensors) - 1 if slot < 0 else ins[slot]
        tensors[index] = replace(tensors[index], **changes)

    return edit


def _none(tensors: list[T], ins: list[int]) -> None:
    pass


VARIANTS = [
    ("cifg", "CIFG (no input gate): TFLM's 16x8 LSTM"),
    ("peephole", "peephole tensors: TFLM's 16x8 LSTM runs the standard LSTM only"),
    ("projection", "projection tensors"),
    ("layer_norm", "layer normalisation tensors"),
]


@needs_tflm
@pytest.mark.parametrize(("variant", "fragment"), VARIANTS, ids=[v[0] for v in VARIANTS])
def test_lstm_16x8_variants_tflm_refuses_are_refused(variant: str, fragment: str) -> None:
    model = _broken(replace(S16, variants=(variant,)), _none)
    with pytest.raises(RuntimeError):  # TFLM's Prepare (ValidateTensorStatus) fails for every activation type
        run_tflm(model, np.zeros(S16.x_shape, np.int16))
    with pytest.raises(BadInput, match=r"^lstm_16x8\.tflite: operator ") as err:
        graph_of(model)
    assert fragment in str(err.value) and "\n" not in str(err.value), err.value


REFUSALS: list[tuple[str, bytes, str]] = [
    ("bias_int32", _broken(S16, _set(13, dtype="int32", data=np.zeros(5, np.int32))),
     "must be an int64 constant of shape [5]"),
    ("hidden_int8", _broken(S16, _set(18, dtype="int8")), "is int16, expected int8 as the hidden state"),
    ("output_int8", _broken(S16, _set(-1, dtype="int8")), "'y' (int8[1, 4, 5]) is int8, expected int16"),
    ("cell_int8", _broken(S16, _set(19, dtype="int8")), "expected int16"),
    ("cell_zero_point", _broken(S16, _set(19, zero_points=[4])), "needs one scale and zero point 0"),
    ("input_unquantized", _broken(S16, _set(0, scales=[], zero_points=[])), "has no per-tensor quantization"),
    ("weights_int16", _broken(S16, _set(2, dtype="int16", data=np.zeros((5, 6), np.int16))), "16x8 LSTM: 8-bit"),
    ("weights_per_channel", _broken(S16, _set(2, scales=[0.01] * 5, zero_points=[0] * 5)), "not per-tensor"),
    ("gate_ratio_2^14", _broken(replace(S16, weight_scales=_gate_scales(2.0**14)), _none), "below 2^14"),
    ("cell_scale_too_coarse", _broken(replace(S16, cell_scale_log2=3), _none), "is too coarse"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "model", "fragment"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_lstm_16x8_refusals(name: str, model: bytes, fragment: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(model)
    with pytest.raises(BadInput) as err:
        lower_model(parse_tflite(model, path))
    msg = str(err.value)
    assert msg.startswith(f"{path}: operator ") and fragment in msg and "\n" not in msg, msg
