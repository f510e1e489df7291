"""SVDF (int8, int8 or int16 state): numpy reference and the host-built C kernel vs tflite-micro, byte for byte, over
several invocations of one interpreter (the state carries): seeded random shapes (input size, filters, rank, memory,
batch 1 to 3), the rails (inputs, weights, zero points; an int8 state whose zero point makes the store wrap),
extreme scales (a large left shift, a multiplier flushed to zero), every fused activation (TFLM's integer SVDF
applies none); three invocations in a row through the compiler's emitted model.c and run_graph_c without reset; and
the refusals."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import build_library, cmsis_nn_dir, load, run_graph_c
from hostops import load_op
from svdf_models import SvdfSpec, balanced, svdf_model, svdf_weights
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.compiler import compile_model
from tinyml_cosim.nn.golden import tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.ops import svdf
from tinyml_cosim.nn.quant import f32
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
Weights = tuple[np.ndarray, np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("svdf", Path(tmp_path_factory.mktemp("op_svdf")))


def tflm_invocations(model: bytes, xs: list[np.ndarray]) -> list[np.ndarray]:
    """One tflite-micro interpreter invoked once per input: its state carries from one to the next."""
    from tflite_micro import runtime as rt  # optional and heavy: only where the golden is asked for

    interp = rt.Interpreter.from_bytes(model, arena_size=256 * 1024)
    outs = []
    for x in xs:
        interp.set_input(x, 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0)))
    return outs


def prepared(spec: SvdfSpec, weights: Weights) -> svdf.SvdfParams:
    scales = svdf.SvdfScales(
        (f32(spec.q_in[0]), spec.q_in[1]),
        f32(spec.q_wf),
        (f32(spec.q_state[0]), spec.q_state[1]),
        f32(spec.q_wt),
        spec.bias_scale,
        (f32(spec.q_out[0]), spec.q_out[1]),
    )
    x_shape, state_shape = (spec.batch, spec.input_size), (spec.batch, spec.memory * spec.num_filters)
    return svdf.prepare(x_shape, weights, state_shape, (spec.batch, spec.num_units), scales, spec.rank)


def reset_state(p: svdf.SvdfParams) -> np.ndarray:
    """TFLM's ResetVariableTensors: an int8 state at its zero point, any other type at 0 (memset)."""
    n = p.batch * p.num_filters * p.memory
    return np.full(n, p.state_zp, np.int8) if p.state_bits == 8 else np.zeros(n, np.int16)


def run_c(kernel: tuple[Any, Any], p: svdf.SvdfParams, x: np.ndarray, state: np.ndarray) -> np.ndarray:
    """One call of cosim_svdf_s8; `state` is updated in place."""
    ffi, lib = kernel
    keep: list[Any] = []

    def ptr(a: np.ndarray | None) -> Any:
        if a is None:
            return ffi.NULL
        keep.append(a)
        return ffi.cast("void *", ffi.from_buffer(a))

    fields = {k: v for k, v in vars(p).items() if not isinstance(v, np.ndarray) and v is not None}
    arrays = ("weights_feature", "weights_time_s8", "weights_time_s16", "bias")
    desc = ffi.new("cosim_svdf_t *", {**fields, **{a: ptr(getattr(p, a)) for a in arrays}})
    out = np.zeros(p.batch * p.num_units, np.int8)
    scratch = np.zeros(p.batch * (p.num_filters + p.num_units), np.int32)
    lib.cosim_svdf_s8(desc, ptr(np.ascontiguousarray(x)), ptr(state), ptr(out), ptr(scratch))
    return out


def check_invocations(
    kernel: tuple[Any, Any], spec: SvdfSpec, xs: list[np.ndarray], weights: Weights | None = None
) -> list[np.ndarray]:
    """Every invocation's output of the numpy reference and of the C kernel equals tflite-micro's."""
    weights = weights or svdf_weights(spec)
    wants = tflm_invocations(svdf_model(spec, weights), xs)
    p = prepared(spec, weights)
    ref_state, c_state = reset_state(p), reset_state(p)
    for k, (x, want) in enumerate(zip(xs, wants, strict=True)):
        got, new = svdf.reference(p, x, ref_state)
        np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"numpy, invocation {k}, {spec}")
        ref_state = new[1]
        c_out = run_c(kernel, p, x, c_state)
        np.testing.assert_array_equal(c_out.reshape(want.shape), want, err_msg=f"C, invocation {k}, {spec}")
        np.testing.assert_array_equal(c_state, ref_state, err_msg=f"state, invocation {k}")
    return wants


def random_spec(seed: int) -> SvdfSpec:
    """Random shapes and zero points; scales drawn around the balanced ones (a tenth of the draws far more off)."""
    rng = np.random.default_rng([31, seed])
    rank = int(rng.integers(1, 4))
    state_dtype = ("int8", "int16")[seed % 2]

    def jitter() -> float:
        return float(10 ** rng.uniform(-0.4, 0.4 if seed % 10 else 1.5))

    spec = SvdfSpec(
        batch=int(rng.integers(1, 4)),
        input_size=int(rng.integers(1, 40)),
        num_filters=rank * int(rng.integers(1, 7)),
        rank=rank,
        memory=int(rng.integers(1, 12)),
        state_dtype=state_dtype,
        q_in=(float(10 ** rng.uniform(-3, 0)), int(rng.integers(-128, 128))),
        q_wf=float(10 ** rng.uniform(-3, -1)),
        q_state=(1.0, int(rng.integers(-128, 128)) if state_dtype == "int8" or seed % 4 == 1 else 0),
        q_wt=float(10 ** rng.uniform(-6, -2)),
        q_out=(1.0, int(rng.integers(-64, 64))),
        seed=seed,
    )
    return balanced(spec, jitter(), jitter())


def inputs(spec: SvdfSpec, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng([32, seed])
    return [rng.integers(-128, 128, (spec.batch, spec.input_size)).astype(np.int8) for _ in range(n)]


@needs_tflm
@pytest.mark.parametrize("seed", range(16))
def test_svdf_seeded_shapes_over_four_invocations(kernel: tuple[Any, Any], seed: int) -> None:
    spec = random_spec(seed)
    wants = check_invocations(kernel, spec, inputs(spec, 4, seed))
    assert len({w.tobytes() for w in wants}) > 1 or spec.memory == 1, "the state should change the outputs"


RAILS: list[tuple[str, SvdfSpec]] = [
    ("int8_state_zp_127_store_wraps", SvdfSpec(state_dtype="int8", q_state=(0.05, 127), q_in=(0.1, -128))),
    ("int8_state_zp_-128", SvdfSpec(state_dtype="int8", q_state=(0.05, -128), q_out=(0.5, 127))),
    ("int16_state_zp_nonzero", SvdfSpec(state_dtype="int16", q_state=(0.001, -300), memory=9)),
    ("int16_saturating_state", SvdfSpec(state_dtype="int16", q_state=(1e-6, 0), q_wt=1e-3, q_out=(0.2, 0))),
    ("large_left_shift", SvdfSpec(q_in=(1.0, 0), q_wf=1.0, q_state=(1e-5, 0), q_wt=1e-6, q_out=(1e-9, -7))),
    ("feature_flushed_to_zero", SvdfSpec(q_in=(1e-6, 3), q_wf=1e-6, q_state=(100.0, 0), q_wt=0.5, q_out=(1.0, 9))),
    ("one_filter_memory_1_batch_3", SvdfSpec(batch=3, input_size=1, num_filters=1, rank=1, memory=1)),
    ("rank_5", SvdfSpec(num_filters=10, rank=5, input_size=33, memory=4, state_dtype="int8", q_state=(0.1, 9))),
]


@needs_tflm
@pytest.mark.parametrize(("name", "spec"), RAILS, ids=[r[0] for r in RAILS])
def test_svdf_rails_and_extreme_scales(kernel: tuple[Any, Any], name: str, spec: SvdfSpec) -> None:
    xs = [np.full((spec.batch, spec.input_size), v, np.int8) for v in (127, -128, 127)]
    xs += inputs(spec, 2, len(name))
    wf, wt, bias = svdf_weights(spec)
    lim = np.iinfo(wt.dtype)
    rails = (np.where(wf >= 0, 127, -128).astype(np.int8), np.where(wt >= 0, lim.max, lim.min).astype(wt.dtype), bias)
    check_invocations(kernel, spec, xs, rails)
    check_invocations(kernel, spec, xs)


@needs_tflm
@pytest.mark.parametrize("act", ["NONE", "RELU", "RELU6", "RELU_N1_TO_1", "TANH"])
def test_svdf_integer_path_applies_no_activation(kernel: tuple[Any, Any], act: str) -> None:
    spec = SvdfSpec(activation=act, q_out=(0.05, 0), state_dtype="int8", q_state=(0.05, 2))
    xs = inputs(spec, 3, 7)
    wants = check_invocations(kernel, spec, xs)
    assert any((w < 0).any() for w in wants)  # below RELU's zero: TFLM clamps to int8 only
    nones = tflm_invocations(svdf_model(replace(spec, activation="NONE")), xs)
    for w, n in zip(wants, nones, strict=True):
        np.testing.assert_array_equal(w, n)


def _model_file(tmp_path: Path, spec: SvdfSpec) -> Path:
    path = tmp_path / "svdf.tflite"
    path.write_bytes(svdf_model(spec))
    return path


@needs_tflm
@pytest.mark.parametrize("state_dtype", ["int8", "int16"])
def test_svdf_three_invocations_through_the_compiler_without_reset(
    state_dtype: str, kernel: tuple[Any, Any], tmp_path: Path
) -> None:
    spec = SvdfSpec(batch=2, input_size=12, num_filters=8, rank=2, memory=4, state_dtype=state_dtype, seed=5)
    spec = balanced(replace(spec, q_state=(1.0, -6 if state_dtype == "int8" else 0)))
    path = _model_file(tmp_path, spec)
    xs = inputs(spec, 3, 11)
    wants = tflm_invocations(path.read_bytes(), xs)
    assert len({w.tobytes() for w in wants}) == 3
    graph = lower_model(parse_tflite(path.read_bytes(), path))
    assert [layer.kind for layer in graph.layers] == ["svdf"]
    cm = compile_model(path, load_board("stm32f405"), tmp_path / "out")
    lib_path = build_library(tmp_path / "libmodel.so", [tmp_path / "out" / "model.c"], include_dirs=[tmp_path / "out"])
    ffi, lib = load(lib_path, True)
    arena = ffi.new("uint8_t[]", cm.arena_bytes + 16)
    aligned = ffi.cast("uint8_t *", arena) + (-int(ffi.cast("uintptr_t", arena)) % 16)
    assert lib.cosim_model_reset(aligned) == 0  # once, as the model runner does
    ref_state: dict[int, Any] = {}
    c_state: dict[int, Any] = {}
    for k, (x, want) in enumerate(zip(xs, wants, strict=True)):
        out = np.zeros(want.size, np.int8)
        assert lib.cosim_model_invoke(aligned, ffi.from_buffer(np.ascontiguousarray(x)), ffi.from_buffer(out)) == 0
        np.testing.assert_array_equal(out.reshape(want.shape), want, err_msg=f"model.c, invocation {k}")
        got = run_graph(graph, x, state=ref_state)
        np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"numpy graph, invocation {k}")
        got_c = run_graph_c(ffi, lib, graph, x, state=c_state)
        np.testing.assert_array_equal(got_c.reshape(want.shape), want, err_msg=f"run_graph_c, invocation {k}")


@pytest.fixture(scope="module")
def cmsis(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if cmsis_nn_dir() is None:
        pytest.skip("CMSIS_NN_DIR is not set to a CMSIS-NN checkout (tested at 99f736a6)")
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load(build_library(Path(tmp_path_factory.mktemp("svdf_cmsis")) / "libcosim_nn.so", kernels="cmsis"))


def _cmsis_spec(seed: int) -> SvdfSpec:
    spec = random_spec(seed)
    return replace(spec, q_state=(spec.q_state[0], 0)) if seed % 3 == 0 else spec


CMSIS_SPECS = [(f"seed{s}", _cmsis_spec(s)) for s in range(12)] + [
    (name, replace(spec, q_state=(spec.q_state[0], 0))) for name, spec in RAILS[3:]
]


@needs_tflm
@pytest.mark.parametrize(("name", "spec"), CMSIS_SPECS, ids=[c[0] for c in CMSIS_SPECS])
def test_svdf_cmsis_nn_adapter_over_four_invocations(
    cmsis: tuple[Any, Any], name: str, spec: SvdfSpec, tmp_path: Path
) -> None:
    """CMSIS-NN's arm_svdf_s8 / arm_svdf_state_s16_s8 where the state zero point is 0 (no fallback counted), the
    ref kernel for any other zero point, bit-exact either way; the state carries from call to call."""
    path = _model_file(tmp_path, spec)
    graph = lower_model(parse_tflite(path.read_bytes(), path))
    xs = [np.full((spec.batch, spec.input_size), v, np.int8) for v in (127, -128)] + inputs(spec, 3, len(name))
    ffi, lib = cmsis
    before = lib.cosim_nn_fallback_count()
    (state_id,) = [t for t, v in graph.tensors.items() if v.variable]
    state: dict[int, Any] = {state_id: reset_state(graph.layers[0].prepared)}  # TFLM's reset, whatever the type
    for k, (x, want) in enumerate(zip(xs, tflm_invocations(path.read_bytes(), xs), strict=True)):
        got = run_graph_c(ffi, lib, graph, x, state=state)
        np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"CMSIS-NN, invocation {k}, {spec}")
    assert lib.cosim_nn_fallback_count() == before


def _broken(spec: SvdfSpec, edit: Callable[[list[T], list[int]], None]) -> bytes:
    """The SVDF model of `spec` with its tensors or input list edited."""
    wf, wt, bias = svdf_weights(spec)
    tensors = [
        T("x", (spec.batch, spec.input_size), "int8", [spec.q_in[0]], [spec.q_in[1]]),
        T("weights_feature", wf.shape, "int8", [spec.q_wf], [0], data=wf),
        T("weights_time", wt.shape, spec.state_dtype, [spec.q_wt], [0], data=wt),
        T("bias", bias.shape, "int32", [spec.bias_scale], [0], data=bias),
        T("state", (1, spec.memory * spec.num_filters), spec.state_dtype, [spec.q_state[0]], [0], variable=True),
        T("y", (1, spec.num_units), "int8", [spec.q_out[0]], [spec.q_out[1]]),
    ]
    ins = [0, 1, 2, 3, 4]
    edit(tensors, ins)
    return build_model(tensors, [Op("SVDF", ins, [5], {"rank": spec.rank})], [0], [5])


def _set(i: int, **changes: Any) -> Callable[[list[T], list[int]], None]:
    def edit(tensors: list[T], ins: list[int]) -> None:
        tensors[i] = replace(tensors[i], **changes)

    return edit


def _no_bias(tensors: list[T], ins: list[int]) -> None:
    ins[3] = -1


S = SvdfSpec()
REFUSALS: list[tuple[str, bytes, str]] = [
    ("no_bias", _broken(S, _no_bias), "the bias is required"),
    ("bias_scale", _broken(S, _set(3, scales=[1e-3])), "bias scale 0.001 is not state scale * weights_time scale"),
    ("not_variable", _broken(S, _set(4, variable=False)), "is not marked variable"),
    ("state_type", _broken(S, _set(4, dtype="int8")), "expected int16"),
    ("per_channel", _broken(S, _set(1, scales=[0.01] * 6, zero_points=[0] * 6)), "needs one (per-tensor) scale"),
    ("rank", _broken(replace(S, rank=4), lambda t, i: None), "rank 4: TFLM needs a positive rank dividing"),
    (
        "time_weights_not_const",
        _broken(S, _set(2, data=None)),
        "weights_time tensor 2 'weights_time' (int16[6, 5]) must be a constant",
    ),
    ("huge_scale", _broken(replace(S, q_out=(1e-30, 0)), lambda t, i: None), "is 2^31 or more"),
    ("output_shape", _broken(S, _set(5, shape=(1, 4))), "output [1, 4], expected [1, 3]"),
]


@pytest.mark.parametrize(("name", "model", "fragment"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_svdf_refusals(name: str, model: bytes, fragment: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(model)
    with pytest.raises(BadInput) as err:
        lower_model(parse_tflite(model, path))
    msg = str(err.value)
    assert msg.startswith(f"{path}: operator ") and fragment in msg and "\n" not in msg, msg
