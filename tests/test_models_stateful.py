"""Stateful models (variable tensors) through the whole compiler and the model runner: an LSTM keyword model (LSTM ->
STRIDED_SLICE of the last step -> FULLY_CONNECTED -> SOFTMAX) and a streaming SVDF model (SVDF -> SVDF ->
FULLY_CONNECTED), each run on several inputs in a row in QEMU, where the state carries from input to input, against
tflite-micro invoked in a row on one interpreter; and what the compiler does with state: planned apart from every
other buffer for the whole run, reset by cosim_model_reset as TFLM resets it (int8: its zero point; int16: 0),
sized in model.h."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from hostbuild import cmsis_nn_dir
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.nn.compiler import compile_model
from tinyml_cosim.nn.golden import run_tflm, run_tflm_sequence, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.planner import plan_memory
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.scratch import registry_scratch
from tinyml_cosim.nn.tflite_reader import parse_tflite

sys.path.insert(0, str(Path(__file__).parent / "ops"))
from lstm_models import LstmSpec, lstm_tensors, lstm_weights
from svdf_models import SvdfSpec, balanced, svdf_weights

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
needs_qemu = pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
CLASSES = 4


def _head(t: list[T], x: int, n_in: int, s_in: float, seed: int) -> tuple[list[Op], int]:
    """FULLY_CONNECTED (n_in -> CLASSES) and SOFTMAX appended to `t`, reading tensor `x`; returns (ops, output)."""
    rng = np.random.default_rng([151, seed])
    s_w = 0.02
    w = rng.integers(-127, 128, (CLASSES, n_in)).astype(np.int8)
    b = rng.integers(-500, 500, CLASSES).astype(np.int32)
    base = len(t)
    t += [
        T("fc_w", w.shape, "int8", [s_w], [0], data=w),
        T("fc_b", b.shape, "int32", [float(np.float32(s_in) * np.float32(s_w))], [0], data=b),
        T("logits", (1, CLASSES), "int8", [0.1], [0]),
        T("probs", (1, CLASSES), "int8", [1 / 256], [-128]),
    ]
    ops = [
        Op("FULLY_CONNECTED", [x, base, base + 1], [base + 2], {"activation": "NONE"}),
        Op("SOFTMAX", [base + 2], [base + 3], {"beta": 1.0}),
    ]
    return ops, base + 3


def lstm_keyword_model() -> bytes:
    """(1, 12 frames, 10 features) -> LSTM(16) -> the last step -> FC(4) -> SOFTMAX."""
    spec = LstmSpec(n_input=10, n_cell=16, time_steps=12, seed=5)
    t, ins, mids = lstm_tensors(spec, lstm_weights(spec))
    y = len(t) - 1
    lstm = Op("UNIDIRECTIONAL_SEQUENCE_LSTM", ins, [y], {"activation": "TANH", "time_major": False}, intermediates=mids)
    s = len(t)
    sh, zh = spec.q_hidden
    t += [
        T("ss_b", (3,), "int32", data=np.array([0, -1, 0], np.int32)),
        T("ss_e", (3,), "int32", data=np.array([1, 0, 16], np.int32)),
        T("ss_s", (3,), "int32", data=np.array([1, 1, 1], np.int32)),
        T("last", (1, 16), "int8", [sh], [zh]),
    ]
    last = Op("STRIDED_SLICE", [y, s, s + 1, s + 2], [s + 3], {"shrink_axis_mask": 2})
    head, out = _head(t, s + 3, 16, sh, 5)
    return build_model(t, [lstm, last, *head], [0], [out])


def svdf_stream_model() -> bytes:
    """(1, 20) features per frame -> SVDF(12 filters, rank 2, memory 8) -> SVDF(8, rank 1, memory 4) -> FC(4)."""
    first = balanced(SvdfSpec(input_size=20, num_filters=12, rank=2, memory=8, state_dtype="int8", seed=3))
    second = balanced(
        SvdfSpec(input_size=6, num_filters=8, rank=1, memory=4, q_in=first.q_out, state_dtype="int16", seed=4)
    )
    t: list[T] = [T("x", (1, 20), "int8", [first.q_in[0]], [first.q_in[1]])]
    ops: list[Op] = []
    x = 0
    for k, spec in enumerate((first, second)):
        wf, wt, bias = svdf_weights(spec)
        base = len(t)
        t += [
            T(f"wf{k}", wf.shape, "int8", [spec.q_wf], [0], data=wf),
            T(f"wt{k}", wt.shape, spec.state_dtype, [spec.q_wt], [0], data=wt),
            T(f"b{k}", bias.shape, "int32", [spec.bias_scale], [0], data=bias),
            T(f"state{k}", (1, spec.memory * spec.num_filters), spec.state_dtype, [spec.q_state[0]],
              [spec.q_state[1]], variable=True),
            T(f"y{k}", (1, spec.num_units), "int8", [spec.q_out[0]], [spec.q_out[1]]),
        ]  # fmt: skip
        ops.append(Op("SVDF", [x, base, base + 1, base + 2, base + 3], [base + 4], {"rank": spec.rank}))
        x = base + 4
    head, out = _head(t, x, second.num_units, second.q_out[0], 6)
    return build_model(t, [*ops, head[0]], [0], [out - 1])


MODELS = {"lstm_keyword": lstm_keyword_model, "svdf_stream": svdf_stream_model}


@needs_tflm
@pytest.mark.parametrize("name", list(MODELS))
def test_the_state_carries_in_numpy_as_in_tflm(name: str) -> None:
    """Invocations in a row differ from invocations from the reset state: the models really are stateful."""
    model = MODELS[name]()
    graph = lower_model(parse_tflite(model))
    shape = graph.input_tensor.shape
    xs = [np.random.default_rng([153, i]).integers(-128, 128, shape).astype(np.int8) for i in range(4)]
    want = [y[0] for y in run_tflm_sequence(model, xs)]
    state: dict[int, np.ndarray] = {}
    got = [run_graph(graph, x, state=state).reshape(w.shape) for x, w in zip(xs, want, strict=True)]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    fresh = [run_tflm(model, x)[0] for x in xs]
    assert any(not np.array_equal(f, w) for f, w in zip(fresh[1:], want[1:], strict=True)), "no state carried"


@pytest.mark.parametrize("name", list(MODELS))
def test_state_is_planned_apart_reset_and_sized(name: str, tmp_path: Path) -> None:
    model = tmp_path / f"{name}.tflite"
    model.write_bytes(MODELS[name]())
    graph = lower_model(parse_tflite(model.read_bytes(), model))
    states = [t for t in graph.tensors.values() if t.variable]
    assert len(states) == 2
    plan = plan_memory(graph, registry_scratch(graph))  # as compile_model plans it for the ref kernels
    for s in states:  # live before the first layer until after the last, so no other buffer shares its bytes
        b = next(b for b in plan.buffers if b.key == f"t{s.id}")
        assert (b.first, b.last) == (-1, len(graph.layers))
    cm = compile_model(model, load_board("stm32f405"), tmp_path / "out")
    header = (tmp_path / "out" / "model.h").read_text()
    assert f"#define COSIM_MODEL_STATE_BYTES {sum(s.nbytes for s in states)}u" in header
    text = (tmp_path / "out" / "model.c").read_text()
    body = re.search(r"int cosim_model_reset\(void \*arena\)\n\{(.*?)\n\}", text, re.S)
    assert body is not None
    fills = re.findall(r"memset\(A \+ (\d+), (\d+), (\d+)u\);", body.group(1))
    want = {(plan.tensor_offset(s.id), (s.zero_point & 0xFF) if s.dtype == "int8" else 0, s.nbytes) for s in states}
    assert {tuple(map(int, f)) for f in fills} == want
    assert cm.arena_bytes >= cm.state_bytes == sum(s.nbytes for s in states)


@needs_tflm
@needs_qemu
@pytest.mark.qemu
@pytest.mark.parametrize("kernels", ["ref", "cmsis-nn"])
@pytest.mark.parametrize("name", list(MODELS))
def test_stateful_model_runs_inputs_in_a_row_in_qemu(name: str, kernels: str, tmp_path: Path) -> None:
    """The runner resets the state once and carries it; the golden (one TFLM interpreter) does the same."""
    from tinyml_cosim.orchestrate.model_check import check_model

    if kernels == "cmsis-nn" and cmsis_nn_dir() is None:
        pytest.skip("CMSIS_NN_DIR is not set to a CMSIS-NN checkout")
    model = tmp_path / f"{name}.tflite"
    model.write_bytes(MODELS[name]())
    rep = check_model(model, load_board("stm32f405"), kernels=kernels, vectors=4)
    assert rep["golden"] == "tflite-micro (one interpreter, in a row)", rep["golden"]
    assert rep["run_status"] == "exited" and rep["bit_exact"] is True and rep["mismatched_vectors"] == [], rep
