"""Models with several inputs and outputs: the emitted cosim_model_invoke takes the inputs packed one after another
in the model's order and gives the outputs the same way (COSIM_MODEL_INPUT_OFFSETS / COSIM_MODEL_OUTPUT_OFFSETS);
an output another layer still reads stays live. Byte for byte with tflite-micro on the host build and in QEMU."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hostbuild import build_library, load
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.nn.compiler import compile_model
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import load_graph
from tinyml_cosim.nn.reference import run_graph_outputs
from tinyml_cosim.orchestrate.model_inputs import packed, seeded_inputs

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")


def _two_in_two_out() -> bytes:
    """d = SUB(a, b) (an output, and FC's input), s = ADD(a, b); y = FC(s) + d's use: outputs [y, d] (y first)."""
    rng = np.random.default_rng(9)
    t = [
        T("a", (1, 12), "int8", [0.05], [-3]),
        T("b", (1, 12), "int8", [0.04], [6]),
        T("d", (1, 12), "int8", [0.08], [1]),
        T("s", (1, 12), "int8", [0.07], [-2]),
        T("w", (5, 12), "int8", [0.02], [0], data=rng.integers(-127, 128, (5, 12)).astype(np.int8)),
        T("y", (1, 5), "int8", [0.1], [4]),
        T("w2", (3, 12), "int8", [0.03], [0], data=rng.integers(-127, 128, (3, 12)).astype(np.int8)),
        T("z", (1, 3), "int8", [0.09], [-7]),
    ]
    ops = [
        Op("SUB", [0, 1], [2]),
        Op("ADD", [0, 1], [3]),
        Op("FULLY_CONNECTED", [3, 4, -1], [5]),
        Op("FULLY_CONNECTED", [2, 6, -1], [7]),  # d is read after it is final: it must not be overwritten
    ]
    return build_model(t, ops, [0, 1], [5, 2, 7])


@needs_tflm
@pytest.mark.skipif(not (shutil.which("gcc") or shutil.which("cc")), reason="no host C compiler (gcc/cc)")
def test_packed_inputs_and_outputs_on_the_host(tmp_path: Path) -> None:
    model = tmp_path / "two_io.tflite"
    model.write_bytes(_two_in_two_out())
    out = tmp_path / "out"
    cm = compile_model(model, load_board("stm32f405"), out)
    assert [q.shape for q in cm.inputs] == [(1, 12), (1, 12)]
    assert [q.shape for q in cm.outputs] == [(1, 5), (1, 12), (1, 3)]
    assert (cm.input_bytes, cm.output_bytes) == (24, 20)
    header = (out / "model.h").read_text()
    assert "#define COSIM_MODEL_INPUT_BYTES 24u" in header and "#define COSIM_MODEL_INPUT_OFFSETS {0, 12}" in header
    assert re.search(r"#define COSIM_MODEL_OUTPUT_OFFSETS \{0, 5, 17\}", header)
    ffi, lib = load(build_library(out / "libmodel.so", [out / "model.c"], include_dirs=[out]), with_model=True)
    raw = ffi.new("uint8_t[]", cm.arena_bytes + 16)
    arena = ffi.cast("uint8_t *", raw) + ((16 - int(ffi.cast("uintptr_t", raw)) % 16) % 16)
    graph = load_graph(model)
    for seed in range(6):
        xs = seeded_inputs(cm, seed)
        assert isinstance(xs, list) and len(xs) == 2
        want = run_tflm(model.read_bytes(), xs)
        inp = np.frombuffer(packed(xs), np.uint8).copy()
        got = np.zeros(cm.output_bytes, np.int8)
        assert lib.cosim_model_invoke(arena, ffi.from_buffer(inp), ffi.from_buffer(got)) == 0
        assert got.tobytes() == packed(want), f"input {seed}"
        assert packed(run_graph_outputs(graph, xs)) == packed(want), f"numpy, input {seed}"


@pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
def test_packed_inputs_and_outputs_in_qemu(tmp_path: Path) -> None:
    from tinyml_cosim.orchestrate.model_check import check_model

    model = tmp_path / "two_io.tflite"
    model.write_bytes(_two_in_two_out())
    rep = check_model(model, load_board("stm32f405"), vectors=3)
    assert rep["run_status"] == "exited" and rep["bit_exact"] is True and rep["mismatched_vectors"] == [], rep
