"""A 4-D batch > 1 through the NHWC kernels of nn/graph.py (CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D,
MAX_POOL_2D), which see one image: the generated code calls each once per image. Numpy, the host-built kernels
(ref, and CMSIS-NN with a checkout) and the emitted model.c vs tflite-micro; a dilated convolution as older
converters export it (SPACE_TO_BATCH_ND -> CONV_2D over 4 images -> BATCH_TO_SPACE_ND) through QEMU; a batch-1 model
emits the same code as before (no loop). The graph's other operators (FULLY_CONNECTED, ADD, MUL, SOFTMAX, LOGISTIC,
TANH, QUANTIZE) see the batch as one more leading dimension: a chain of them at batch 3 on the host and 2 in QEMU."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import tflite_ops_writer  # noqa: F401  (registers the options writers)
from hostbuild import build_library, cmsis_nn_dir, load, run_graph_c
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.nn.compiler import compile_model
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
Q_IN, Q_OUT = ([0.05], [-3]), ([0.08], [6])


def _conv(batch: int, depthwise: bool = False, **options: object) -> bytes:
    rng = np.random.default_rng([171, batch, depthwise])
    ic, oc = 3, (6 if depthwise else 5)
    shape_f = (1, 3, 3, oc) if depthwise else (oc, 3, 3, ic)
    w = rng.integers(-127, 128, shape_f).astype(np.int8)
    scales = [float(v) for v in rng.uniform(0.002, 0.01, oc)]
    b = rng.integers(-2000, 2000, oc).astype(np.int32)
    pad = options.get("padding", "SAME")
    oh = 7 if pad == "SAME" else 5
    tensors = [
        T("x", (batch, 7, 7, ic), "int8", *Q_IN),
        T("w", shape_f, "int8", scales, [0] * oc, qdim=3 if depthwise else 0, data=w),
        T("b", (oc,), "int32", [0.05 * s for s in scales], [0] * oc, data=b),
        T("y", (batch, oh, oh, oc), "int8", *Q_OUT),
    ]
    name = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
    extra = {"depth_multiplier": 2} if depthwise else {}
    return build_model(tensors, [Op(name, [0, 1, 2], [3], {"padding": pad, **extra, **options})], [0], [3])


def _pool(batch: int, name: str) -> bytes:
    tensors = [T("x", (batch, 8, 6, 4), "int8", *Q_IN), T("y", (batch, 4, 3, 4), "int8", *Q_IN)]
    options = {"filter_h": 2, "filter_w": 2, "stride_h": 2, "stride_w": 2, "padding": "VALID"}
    return build_model(tensors, [Op(name, [0], [1], options)], [0], [1])


MODELS = {
    "conv_same": lambda: _conv(3),
    "conv_valid_relu": lambda: _conv(2, padding="VALID", activation="RELU"),
    "depthwise": lambda: _conv(2, depthwise=True),
    "avgpool": lambda: _pool(3, "AVERAGE_POOL_2D"),
    "maxpool": lambda: _pool(2, "MAX_POOL_2D"),
}


def dilated_conv_model() -> bytes:
    """x (1, 12, 12, 2) -> SPACE_TO_BATCH_ND (block 2) -> CONV_2D 3x3 VALID over 4 images -> BATCH_TO_SPACE_ND: a
    VALID 3x3 convolution with dilation 2, as converters before the dilated-conv fusion wrote it. No padding: the
    pinned TFLM pads SPACE_TO_BATCH_ND's int8 output with uninitialised memory (nn/ops/space_to_batch_nd.py), so a
    padded golden depends on what the process did before."""
    rng = np.random.default_rng(173)
    w = rng.integers(-127, 128, (4, 3, 3, 2)).astype(np.int8)
    tensors = [
        T("x", (1, 12, 12, 2), "int8", *Q_IN),
        T("block", (2,), "int32", data=np.array([2, 2], np.int32)),
        T("pads", (2, 2), "int32", data=np.zeros((2, 2), np.int32)),
        T("s2b", (4, 6, 6, 2), "int8", *Q_IN),
        T("w", (4, 3, 3, 2), "int8", [0.006] * 4, [0] * 4, data=w),
        T("b", (4,), "int32", [0.0003] * 4, [0] * 4, data=rng.integers(-900, 900, 4).astype(np.int32)),
        T("conv", (4, 4, 4, 4), "int8", *Q_OUT),
        T("crops", (2, 2), "int32", data=np.zeros((2, 2), np.int32)),
        T("y", (1, 8, 8, 4), "int8", *Q_OUT),
    ]
    ops = [
        Op("SPACE_TO_BATCH_ND", [0, 1, 2], [3]),
        Op("CONV_2D", [3, 4, 5], [6], {"padding": "VALID"}),
        Op("BATCH_TO_SPACE_ND", [6, 1, 7], [8]),
    ]
    return build_model(tensors, ops, [0], [8])


@pytest.fixture(scope="module", params=["ref", "cmsis"])
def kernels(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    if request.param == "cmsis" and cmsis_nn_dir() is None:
        pytest.skip("CMSIS_NN_DIR is not set to a CMSIS-NN checkout")
    name = str(request.param)
    return name, build_library(tmp_path_factory.mktemp(f"batch_{name}") / "libcosim_nn.so", kernels=name)


@needs_tflm
@pytest.mark.parametrize("name", [*MODELS, "dilated"])
def test_batch_is_bit_exact(name: str, kernels: tuple[str, Path], tmp_path: Path) -> None:
    data = dilated_conv_model() if name == "dilated" else MODELS[name]()
    model = tmp_path / f"{name}.tflite"
    model.write_bytes(data)
    graph = lower_model(parse_tflite(data, model))
    assert any(layer.batch > 1 for layer in graph.layers)
    ffi, lib = load(kernels[1])
    out = tmp_path / "out"
    cm = compile_model(model, load_board("stm32f405"), out, kernels=kernels[0])
    emitted = load(build_library(out / "m.so", [out / "model.c"], kernels=kernels[0], include_dirs=[out],
                                 kernel_library=kernels[1]), True)  # fmt: skip
    arena = emitted[0].new("uint8_t[]", cm.arena_bytes + 16)
    aligned = emitted[0].cast("uint8_t *", arena) + (-int(emitted[0].cast("uintptr_t", arena)) % 16)
    for seed in range(3):
        x = np.random.default_rng([175, seed]).integers(-128, 128, graph.input_tensor.shape).astype(np.int8)
        want = run_tflm(data, x)[0]
        np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want, err_msg="numpy")
        np.testing.assert_array_equal(run_graph_c(ffi, lib, graph, x).reshape(want.shape), want, err_msg="kernels")
        got = np.zeros(want.shape, np.int8)
        rc = emitted[1].cosim_model_invoke(aligned, emitted[0].from_buffer(x), emitted[0].from_buffer(got))
        assert rc == 0
        np.testing.assert_array_equal(got, want, err_msg="model.c")


def test_batch_runs_the_kernel_once_per_image_and_batch_1_has_no_loop(tmp_path: Path) -> None:
    for batch in (1, 3):
        model = tmp_path / f"b{batch}.tflite"
        model.write_bytes(_conv(batch))
        compile_model(model, load_board("stm32f405"), tmp_path / f"o{batch}")
        text = (tmp_path / f"o{batch}" / "model.c").read_text()
        if batch == 1:
            assert "for (uint32_t b" not in text
        else:
            assert "for (uint32_t b = 0; b < 3u; b++) {" in text and "b * 147u" in text and "b * 245u" in text


@needs_tflm
@pytest.mark.qemu
@pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
@pytest.mark.parametrize("kernel_set", ["ref", "cmsis-nn"])
def test_dilated_convolution_through_space_to_batch_in_qemu(tmp_path: Path, kernel_set: str) -> None:
    from tinyml_cosim.orchestrate.model_check import check_model

    if kernel_set == "cmsis-nn" and cmsis_nn_dir() is None:
        pytest.skip("CMSIS_NN_DIR is not set to a CMSIS-NN checkout")
    model = tmp_path / "dilated.tflite"
    model.write_bytes(dilated_conv_model())
    rep = check_model(model, load_board("stm32f405"), kernels=kernel_set, vectors=3)
    assert rep["run_status"] == "exited" and rep["bit_exact"] is True and rep["mismatched_vectors"] == [], rep


def _flat_ops_chain(batch: int) -> bytes:
    """The graph's operators that see the batch as one more dimension, on (batch, 3, 4, 5): ADD of a constant
    broadcast over the batch, MUL of two arena tensors, LOGISTIC, TANH, a requantizing QUANTIZE, SOFTMAX over the last
    dimension and a FULLY_CONNECTED over every row (batch * 12 rows of 5)."""
    rng = np.random.default_rng([177, batch])
    shape = (batch, 3, 4, 5)
    tensors = [
        T("x", shape, "int8", *Q_IN),
        T("c", (1, 1, 1, 5), "int8", [0.03], [2], data=rng.integers(-128, 128, (1, 1, 1, 5)).astype(np.int8)),
        T("add", shape, "int8", [0.07], [1]),
        T("mul", shape, "int8", [0.2], [-4]),
        T("sig", shape, "int8", [1 / 256], [-128]),
        T("tanh", shape, "int8", [1 / 128], [0]),
        T("req", shape, "int8", [0.02], [3]),
        T("sm", shape, "int8", [1 / 256], [-128]),
        T("w", (6, 5), "int8", [0.01], [0], data=rng.integers(-127, 128, (6, 5)).astype(np.int8)),
        T("y", (batch * 12, 6), "int8", *Q_OUT),
    ]
    ops = [
        Op("ADD", [0, 1], [2]),
        Op("MUL", [2, 0], [3]),
        Op("LOGISTIC", [3], [4]),
        Op("TANH", [4], [5]),
        Op("QUANTIZE", [5], [6]),
        Op("SOFTMAX", [6], [7], {"beta": 1.0}),
        Op("FULLY_CONNECTED", [7, 8, -1], [9]),
    ]
    return build_model(tensors, ops, [0], [9])


@needs_tflm
def test_flat_graph_operators_take_a_batch(kernels: tuple[str, Path], tmp_path: Path) -> None:
    data = _flat_ops_chain(3)
    model = tmp_path / "flat.tflite"
    model.write_bytes(data)
    graph = lower_model(parse_tflite(data, model))
    assert {layer.op_name for layer in graph.layers} >= {"ADD", "MUL", "LOGISTIC", "TANH", "SOFTMAX", "FULLY_CONNECTED"}
    ffi, lib = load(kernels[1])
    for seed in range(3):
        x = np.random.default_rng([178, seed]).integers(-128, 128, (3, 3, 4, 5)).astype(np.int8)
        want = run_tflm(data, x)[0]
        assert want.shape == (36, 6)
        np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want, err_msg="numpy")
        np.testing.assert_array_equal(run_graph_c(ffi, lib, graph, x).reshape(want.shape), want, err_msg="kernels")


@needs_tflm
@pytest.mark.qemu
@pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
def test_flat_graph_operators_take_a_batch_in_qemu(tmp_path: Path) -> None:
    from tinyml_cosim.orchestrate.model_check import check_model

    model = tmp_path / "flat.tflite"
    model.write_bytes(_flat_ops_chain(2))
    rep = check_model(model, load_board("stm32f405"), vectors=3)
    assert rep["run_status"] == "exited" and rep["bit_exact"] is True and rep["mismatched_vectors"] == [], rep
