"""The CMSIS-NN adapters (firmware/nn/cmsis) on the host build, against TFLM: needs CMSIS_NN_DIR pointing at a CMSIS-NN
checkout (tested at 99f736a63036613032f9b70de36b493bcd7802d4); without it every test here skips with that reason.

Covers every operator kind of the seeded generators in cases.py (the ones CMSIS-NN runs and the ones that stay on the
ref kernels inside a CMSIS-NN build), the constructed corner cases, the committed golden vectors (no tflite-micro
needed), the scratch sizes the compiler plans (tinyml_cosim/models/scratch.py) against CMSIS-NN's own get_buffer_size
functions for both the plain-C and the DSP build, the fallback when a scratch buffer is too small, and the MLPerf
models both layer by layer and as compiled model.c with the scratch buffers planned into the arena.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cases import GENERATORS, all_case_ids, corner_cases, make_case
from hostbuild import build_library, cmsis_nn_dir, load, run_graph_c

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.nn.compiler import compile_model
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import Graph, load_graph, lower_model
from tinyml_cosim.nn.scratch import layer_scratch_bytes
from tinyml_cosim.nn.tflite_reader import parse_tflite

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MLPERF = REPO.parent / "shared" / "models" / "mlperf-tiny"
GOLDEN = REPO / "src" / "tinyml_cosim" / "golden"
MODELS = ("kws_ref_model", "ad01_int8", "pretrainedResnet_quant")
# The scratch sizes of CMSIS-NN built with the DSP extension (tests/kernels/cmsis_dsp_scratch.c)
DSP_CDEF = """
int32_t test_dsp_conv2d_scratch(const cosim_conv_t *p);
int32_t test_dsp_dwconv2d_scratch(const cosim_conv_t *p);
int32_t test_dsp_avgpool_scratch(const cosim_pool_t *p);
int32_t test_dsp_fc_scratch(const cosim_fc_t *p);
"""
SCRATCH_FNS = {
    "conv2d": ("cosim_conv_t", "cosim_conv2d_s8_scratch", "test_dsp_conv2d_scratch"),
    "dwconv2d": ("cosim_conv_t", "cosim_dwconv2d_s8_scratch", "test_dsp_dwconv2d_scratch"),
    "avgpool": ("cosim_pool_t", "cosim_avgpool_s8_scratch", "test_dsp_avgpool_scratch"),
    "fc": ("cosim_fc_t", "cosim_fc_s8_scratch", "test_dsp_fc_scratch"),
}

pytestmark = pytest.mark.skipif(
    cmsis_nn_dir() is None,
    reason="CMSIS_NN_DIR is not set to a CMSIS-NN checkout (export CMSIS_NN_DIR=/path/to/CMSIS-NN; tested at 99f736a6)",
)
needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")


@pytest.fixture(scope="module")
def cmsis_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = Path(tmp_path_factory.mktemp("cmsis")) / "libcosim_cmsis.so"
    return build_library(out, [HERE / "cmsis_dsp_scratch.c"], kernels="cmsis")


@pytest.fixture(scope="module")
def cmsis(cmsis_lib: Path) -> tuple[Any, Any]:
    ffi, lib = load(cmsis_lib, extra_cdef=DSP_CDEF)
    assert ffi.string(lib.cosim_nn_impl()) == b"cmsis-nn"
    return ffi, lib


def _check(cmsis: tuple[Any, Any], name: str, model: bytes, inputs: list[np.ndarray], want: np.ndarray | None) -> None:
    """Bit-exact with TFLM (or the recorded `want`), and no call fell back to a ref kernel."""
    ffi, lib = cmsis
    graph = lower_model(parse_tflite(model, Path(name)))
    if want is None:
        want = run_tflm(model, inputs)[0]
    before = lib.cosim_nn_fallback_count()
    got = run_graph_c(ffi, lib, graph, inputs).reshape(want.shape)
    assert lib.cosim_nn_fallback_count() == before, f"{name}: a CMSIS-NN call fell back to the ref kernel"
    if want.dtype == np.float32:
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32), err_msg=name)
        return
    if not np.array_equal(got, want):
        bad = np.flatnonzero(got.reshape(-1) != want.reshape(-1))
        raise AssertionError(
            f"CMSIS-NN build differs from TFLM on {name}: {bad.size} of {want.size} values, first at {bad[0]}: "
            f"got {got.reshape(-1)[bad[0]]}, want {want.reshape(-1)[bad[0]]}"
        )


@needs_tflm
@pytest.mark.parametrize(("kind", "seed"), all_case_ids(), ids=[f"{k}-{s}" for k, s in all_case_ids()])
def test_random_case(cmsis: tuple[Any, Any], kind: str, seed: int) -> None:
    case = make_case(kind, seed)
    _check(cmsis, case.name, case.model, case.inputs, None)


CORNERS = corner_cases()


@needs_tflm
@pytest.mark.parametrize("index", range(len(CORNERS)), ids=[c[0].replace(" ", "_") for c in CORNERS])
def test_corner_case(cmsis: tuple[Any, Any], index: int) -> None:
    name, model, rows = CORNERS[index]
    for row in rows:
        _check(cmsis, name, model, [row], None)


def _golden_cases() -> list[str]:
    f = GOLDEN / "kernel_cases.npz"
    if not f.exists():
        return []
    with np.load(f) as z:
        return sorted({k.split("/")[0] for k in z.files})


@pytest.mark.parametrize("key", _golden_cases())
def test_committed_golden_case(cmsis: tuple[Any, Any], key: str) -> None:
    """TFLM's recorded outputs (models/golden/kernel_cases.npz): runs without tflite-micro."""
    with np.load(GOLDEN / "kernel_cases.npz") as z:
        model = z[f"{key}/model"].tobytes()
        inputs = [z[f"{key}/input{i}"] for i in range(int(z[f"{key}/n_inputs"]))]
        want = z[f"{key}/output"]
    _check(cmsis, key, model, inputs, want)


def _descriptor(ffi: Any, struct: str, layer: Any) -> Any:
    # the size functions read shapes and parameters only: no constant arrays needed
    return ffi.new(f"{struct} *", {k: v for k, v in layer.p.items() if k != "copy_sizes"})


def _scratch_graphs() -> list[tuple[str, Graph]]:
    out = []
    for kind in SCRATCH_FNS:
        for seed in range(GENERATORS[kind][0]):
            case = make_case(kind, seed)
            out.append((case.name, lower_model(parse_tflite(case.model, Path(case.name)))))
    for name in MODELS:
        if (MLPERF / f"{name}.tflite").exists():
            out.append((name, load_graph(MLPERF / f"{name}.tflite")))
    return out


def test_planned_scratch_sizes_are_cmsis_nn_s(cmsis: tuple[Any, Any]) -> None:
    """nn/scratch.py == CMSIS-NN's get_buffer_size, for the plain-C build (Cortex-M3, the host) and the DSP
    build (Cortex-M4), on every conv / depthwise / average-pool / FC case and every MLPerf layer."""
    ffi, lib = cmsis
    checked, nonzero = 0, {False: 0, True: 0}
    for name, graph in _scratch_graphs():
        for i, layer in enumerate(graph.layers):
            if layer.kind not in SCRATCH_FNS:
                continue
            struct, plain_fn, dsp_fn = SCRATCH_FNS[layer.kind]
            desc = _descriptor(ffi, struct, layer)
            for dsp, fn in ((False, plain_fn), (True, dsp_fn)):
                want = getattr(lib, fn)(desc)
                got = layer_scratch_bytes(layer, dsp)
                assert got == want, f"{name} layer {i} ({layer.kind}, dsp={dsp}): planned {got}, CMSIS-NN asks {want}"
                nonzero[dsp] += want > 0
            checked += 1
    assert checked > 300 and nonzero[False] > 50 and nonzero[True] > nonzero[False]


def _conv_with_scratch() -> tuple[str, bytes, list[np.ndarray], Graph]:
    for seed in range(GENERATORS["conv2d"][0]):
        case = make_case("conv2d", seed)
        graph = lower_model(parse_tflite(case.model, Path(case.name)))
        if layer_scratch_bytes(graph.layers[0], False) > 0:
            return case.name, case.model, case.inputs, graph
    raise AssertionError("no conv2d case needs scratch")


@needs_tflm
def test_too_small_scratch_runs_the_ref_kernel_and_counts(cmsis: tuple[Any, Any]) -> None:
    ffi, lib = cmsis
    name, model, inputs, graph = _conv_with_scratch()
    want = run_tflm(model, inputs)[0].reshape(-1)
    need = layer_scratch_bytes(graph.layers[0], False)
    for given, fallbacks in ((need, 0), (need - 1, 1), (0, 1)):
        before = lib.cosim_nn_fallback_count()
        got = run_graph_c(ffi, lib, graph, inputs, scratch={0: given}).reshape(-1)
        np.testing.assert_array_equal(got, want, err_msg=f"{name} with {given} of {need} scratch bytes")
        assert lib.cosim_nn_fallback_count() - before == fallbacks, (given, need)


def _model(name: str) -> Path:
    path = MLPERF / f"{name}.tflite"
    if not path.exists():
        pytest.skip(f"{path} is absent (the MLPerf Tiny models live in ../shared relative to the repo)")
    return path


@needs_tflm
@pytest.mark.parametrize("name", MODELS)
def test_mlperf_models_layer_by_layer(cmsis: tuple[Any, Any], name: str) -> None:
    path = _model(name)
    ffi, lib = cmsis
    graph = load_graph(path)
    rng = np.random.default_rng(11)
    before = lib.cosim_nn_fallback_count()
    for _ in range(20):
        x = rng.integers(-128, 128, size=graph.input_tensor.shape).astype(np.int8)
        want = run_tflm(path, x)[0]
        np.testing.assert_array_equal(run_graph_c(ffi, lib, graph, x).reshape(want.shape), want)
    assert lib.cosim_nn_fallback_count() == before


@pytest.mark.parametrize("name", MODELS)
def test_mlperf_compiled_with_scratch_in_the_arena(
    cmsis_lib: Path, tmp_path_factory: pytest.TempPathFactory, name: str
) -> None:
    """model.c compiled for kernels="cmsis" (scratch sized for the host's plain-C CMSIS-NN) runs the committed inputs
    bit-exact through cosim_model_invoke, with every scratch buffer in the arena and no fallback; an arena filled
    with garbage first shows nothing reads memory it did not write."""
    path = _model(name)
    f = GOLDEN / f"mlperf_{name}.npz"
    if not f.exists():
        pytest.skip(f"{f} is missing")
    out = tmp_path_factory.mktemp(f"{name}-cmsis")
    cm = compile_model(path, load_board("stm32f205"), out, kernels="cmsis", compare_tflm=False)
    assert cm.scratch_dsp is False and cm.arena_bytes <= cm.tflm_greedy_arena_bytes
    text = (out / "model.c").read_text()
    assert text.count("_with_scratch(") == len(cm.scratch)
    lib_path = build_library(out / "libmodel.so", [out / "model.c"], "cmsis", [out], kernel_library=cmsis_lib)
    ffi, lib = load(lib_path, with_model=True)
    assert lib.cosim_model_desc.arena_bytes == cm.arena_bytes
    raw = ffi.new("uint8_t[]", cm.arena_bytes + 16)
    arena = ffi.cast("uint8_t *", raw) + (-int(ffi.cast("uintptr_t", raw)) % 16)
    before = lib.cosim_nn_fallback_count()
    with np.load(f) as z:
        xs, ys = z["inputs"], z["outputs"]
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        ffi.memmove(arena, bytes([0xA5]) * cm.arena_bytes, cm.arena_bytes)
        got = np.zeros_like(y)
        xc = np.ascontiguousarray(x)
        assert lib.cosim_model_invoke(arena, ffi.from_buffer(xc), ffi.from_buffer(got)) == 0
        np.testing.assert_array_equal(got, y, err_msg=f"{name} input {i}")
    assert lib.cosim_nn_fallback_count() == before
