"""ADD and MUL with a constant operand (a Keras Rescaling / Normalization layer, a learned bias or scale row): the
constant is emitted to flash and passed to the kernel, on either side, broadcast or not; byte for byte with
tflite-micro on the host (C kernels, numpy, the emitted model.c) and in QEMU, with the ref and CMSIS-NN kernels."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import build_library, cmsis_nn_dir, load, run_graph_c
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.nn.compiler import compile_model
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")


def _model(op: str, const_first: bool, const_shape: tuple[int, ...], act: str = "NONE") -> bytes:
    shape = (1, 4, 5, 6)
    c = np.random.default_rng(len(const_shape)).integers(-128, 128, const_shape).astype(np.int8)
    tensors = [
        T("x", shape, "int8", [0.05], [-4]),
        T("c", const_shape, "int8", [0.03], [7], data=c),
        T("y", shape, "int8", [0.09 if op == "ADD" else 0.02], [3]),
    ]
    ins = [1, 0] if const_first else [0, 1]
    return build_model(tensors, [Op(op, ins, [2], {"activation": act})], [0], [2])


CASES = [
    ("ADD", False, (6,), "RELU"),
    ("ADD", True, (1, 4, 5, 6), "NONE"),
    ("MUL", False, (1, 1, 6), "NONE"),
    ("MUL", True, (5, 1), "RELU6"),
]


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load(build_library(Path(tmp_path_factory.mktemp("nn_eltwise_const")) / "libcosim_nn.so"))


@needs_tflm
@pytest.mark.parametrize(("op", "const_first", "const_shape", "act"), CASES)
def test_constant_operand_is_bit_exact(
    kernels: tuple[Any, Any], tmp_path: Path, op: str, const_first: bool, const_shape: tuple[int, ...], act: str
) -> None:
    model = tmp_path / "m.tflite"
    model.write_bytes(_model(op, const_first, const_shape, act))
    graph = lower_model(parse_tflite(model.read_bytes(), model))
    layer = graph.layers[0]
    assert len(layer.inputs) == 1 and any(isinstance(a, str) for a in layer.args)
    cm = compile_model(model, load_board("stm32f405"), tmp_path / "out")
    assert "static const int8_t L0_input_" in (tmp_path / "out" / "model.c").read_text()
    ffi, lib = kernels
    for seed in range(4):
        x = np.random.default_rng(seed).integers(-128, 128, (1, 4, 5, 6)).astype(np.int8)
        want = run_tflm(model.read_bytes(), x)[0]
        np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want)
        np.testing.assert_array_equal(run_graph_c(ffi, lib, graph, x).reshape(want.shape), want)
    assert cm.arena_bytes == 2 * 128  # the input and the output only: the constant stays in flash


@pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
@pytest.mark.parametrize("kernel_set", ["ref", "cmsis-nn"])
def test_constant_operands_in_qemu(tmp_path: Path, kernel_set: str) -> None:
    """x * scale + offset, as a Rescaling layer exports it, then ADD of two arena tensors."""
    from tinyml_cosim.orchestrate.model_check import check_model

    if kernel_set == "cmsis-nn" and cmsis_nn_dir() is None:
        pytest.skip("CMSIS_NN_DIR is not set to a CMSIS-NN checkout")
    rng = np.random.default_rng(2)
    shape = (1, 6, 6, 4)
    tensors = [
        T("x", shape, "int8", [0.05], [-4]),
        T("scale", (4,), "int8", [0.02], [-10], data=rng.integers(0, 128, 4).astype(np.int8)),
        T("xs", shape, "int8", [0.04], [2]),
        T("offset", shape, "int8", [0.03], [5], data=rng.integers(-128, 128, shape).astype(np.int8)),
        T("xo", shape, "int8", [0.08], [-1]),
        T("y", shape, "int8", [0.1], [0]),
    ]
    ops = [Op("MUL", [0, 1], [2]), Op("ADD", [3, 2], [4]), Op("ADD", [4, 0], [5])]
    model = tmp_path / "rescale.tflite"
    model.write_bytes(build_model(tensors, ops, [0], [5]))
    rep = check_model(model, load_board("stm32f405"), kernels=kernel_set, vectors=3)
    assert rep["run_status"] == "exited" and rep["bit_exact"] is True and rep["mismatched_vectors"] == [], rep
