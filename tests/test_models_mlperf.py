"""The three MLPerf Tiny models: compiled to C, built for the host, run bit-exact against TFLM on 20 seeded inputs
each (live tflite-micro when installed, else the committed golden vectors), plus the numpy golden and the per-layer
callback."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import build_library, load

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.nn.compiler import CompiledModel, compile_graph, compile_model
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import load_graph
from tinyml_cosim.nn.planner import buffers_of
from tinyml_cosim.nn.reference import run_numpy
from tinyml_cosim.nn.scratch import graph_scratch

REPO = Path(__file__).resolve().parents[1]
MLPERF = REPO.parent / "shared" / "models" / "mlperf-tiny"
GOLDEN = REPO / "src" / "tinyml_cosim" / "golden"
MODELS = ("kws_ref_model", "ad01_int8", "pretrainedResnet_quant")
# TFLM's RecordingMicroAllocator "head" (planned tensors) for each model, from shared/models/mlperf-tiny/README.md
TFLM_HEAD = {"kws_ref_model": 16000, "ad01_int8": 768, "pretrainedResnet_quant": 49152}


def _model(name: str) -> Path:
    path = MLPERF / f"{name}.tflite"
    if not path.exists():
        pytest.skip(f"{path} is absent (the MLPerf Tiny models live in ../shared relative to the repo)")
    return path


class Runner:
    def __init__(self, cm: CompiledModel, lib: Path) -> None:
        self.cm = cm
        self.ffi, self.lib = load(lib, with_model=True)
        self._arena = self.ffi.new("uint8_t[]", cm.arena_bytes + 16)
        addr = int(self.ffi.cast("uintptr_t", self._arena))
        self.arena = self.ffi.cast("uint8_t *", self._arena) + ((16 - addr % 16) % 16)

    def __call__(self, x: np.ndarray, cb: Any = None) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.int8)
        out = np.zeros(self.cm.output.shape, np.int8)
        ffi = self.ffi
        rc = self.lib.cosim_model_invoke_cb(
            self.arena, ffi.from_buffer(x), ffi.from_buffer(out), cb if cb is not None else ffi.NULL, ffi.NULL
        )
        assert rc == 0
        return out


@pytest.fixture(scope="module", params=MODELS)
def compiled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Runner]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler")
    name = request.param
    path = _model(name)
    out = tmp_path_factory.mktemp(name)
    cm = compile_model(path, load_board("stm32f405"), out)
    lib = build_library(out / "libmodel.so", [out / "model.c"], include_dirs=[out])
    return name, Runner(cm, lib)


def _golden(name: str) -> tuple[np.ndarray, np.ndarray]:
    f = GOLDEN / f"mlperf_{name}.npz"
    if not f.exists():
        pytest.skip(f"{f} is missing")
    with np.load(f) as z:
        return z["inputs"], z["outputs"]


def test_bit_exact_vs_committed_golden(compiled: tuple[str, Runner]) -> None:
    name, run = compiled
    xs, ys = _golden(name)
    assert len(xs) >= 20
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        np.testing.assert_array_equal(run(x), y, err_msg=f"{name} input {i}: C kernels differ from TFLM")
        np.testing.assert_array_equal(run_numpy(run.cm.graph, x)[0], y, err_msg=f"{name} input {i}: numpy differs")


@pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed")
def test_bit_exact_vs_live_tflm(compiled: tuple[str, Runner]) -> None:
    name, run = compiled
    rng = np.random.default_rng(2024)
    for i in range(20):
        # mixes full-range noise with inputs pinned to the rails
        x = rng.integers(-128, 128, size=run.cm.input.shape).astype(np.int8)
        if i % 5 == 4:
            x[...] = -128 if i % 10 == 4 else 127
        want = run_tflm(run.cm.source, x)[0]
        np.testing.assert_array_equal(run(x), want, err_msg=f"{name} input {i}")


def test_layer_callback_sees_every_intermediate(compiled: tuple[str, Runner]) -> None:
    name, run = compiled
    x = np.random.default_rng(5).integers(-128, 128, size=run.cm.input.shape).astype(np.int8)
    want = run_numpy(run.cm.graph, x, intermediates=True)[1:]
    seen: list[np.ndarray] = []

    @run.ffi.callback("cosim_layer_cb_t")
    def cb(layer: int, data: Any, nbytes: int, user: Any) -> None:
        assert layer == len(seen)
        seen.append(np.frombuffer(run.ffi.buffer(data, nbytes), np.int8).copy())

    run(x, cb)
    assert len(seen) == len(want) == len(run.cm.layers)
    for i, (a, b) in enumerate(zip(seen, want, strict=True)):
        np.testing.assert_array_equal(a, b.reshape(-1), err_msg=f"{name} layer {i}")


def test_arena_not_larger_than_tflm(compiled: tuple[str, Runner]) -> None:
    name, run = compiled
    assert run.cm.arena_bytes <= TFLM_HEAD[name]
    assert run.cm.arena_bytes <= run.cm.tflm_greedy_arena_bytes
    if run.cm.tflm_arena_head is not None:
        assert run.cm.arena_bytes <= run.cm.tflm_arena_head


def test_compiled_model_reports(compiled: tuple[str, Runner]) -> None:
    _, run = compiled
    cm = run.cm
    assert cm.total_macs > 0 and cm.total_params > 0 and cm.flash_bytes > cm.total_params
    assert cm.input.dtype == "int8" and cm.output.dtype == "int8"
    text = cm.files[0].read_text()
    assert "cosim_model_invoke" in text and "static const int8_t" in text
    desc = run.lib.cosim_model_desc
    assert desc.arena_bytes == cm.arena_bytes and desc.n_layers == len(cm.layers)
    assert desc.total_macs == cm.total_macs


@pytest.mark.parametrize("dsp", [True, False], ids=["cortex-m4-dsp", "cortex-m3"])
@pytest.mark.parametrize("name", MODELS)
def test_cmsis_arena_with_planned_scratch(name: str, dsp: bool) -> None:
    """kernels="cmsis" plans CMSIS-NN's scratch buffers into the arena (no CMSIS-NN checkout needed to compile): never
    above what TFLM's greedy planner makes of the same tensors + scratch (TFLM's CMSIS-NN kernels request the same
    sizes), at the lower bound (the most bytes live at once), and for KWS and AD01 no larger than TFLM's plan with
    its reference kernels. ResNet-8's second 3x3 convolution runs while three 16 KB tensors are live, so its 576-byte
    im2col buffer adds to the peak there (49,728 vs 49,152 bytes, exactly as TFLM with CMSIS-NN would plan)."""
    graph = load_graph(_model(name))
    cm = compile_graph(graph, None, kernels="cmsis", board=load_board("stm32f405"), dsp=dsp)
    scratch = graph_scratch(graph, dsp)
    assert cm.scratch == {i: (n + 15) // 16 * 16 for i, n in scratch.items()} and cm.scratch_dsp is dsp
    assert cm.arena_bytes <= cm.tflm_greedy_arena_bytes
    live = buffers_of(graph, scratch)
    lower_bound = max(sum(b.size for b in live if b.first <= t <= b.last) for t in range(-1, len(graph.layers) + 1))
    assert cm.arena_bytes == lower_bound
    assert cm.arena_bytes_without_scratch == TFLM_HEAD[name]
    if name == "pretrainedResnet_quant":
        assert cm.arena_bytes == TFLM_HEAD[name] + 576
    else:
        assert cm.arena_bytes == TFLM_HEAD[name]
