"""CAST between int8, int16 and int32 (every pair): the lowered graph (numpy golden and the host-built C kernel) vs
tflite-micro, value for value, over each type's whole range (narrowing wraps as TFLM's static_cast does); float and
uint8 casts refused by name; and a 16-bit PCM input cast to int32 through QEMU."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tflite_ops_writer  # noqa: F401  (registers the options writers)
from hostbuild import run_graph_c
from hostops import load_op
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
TYPES = ("int8", "int16", "int32")


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("cast", Path(tmp_path_factory.mktemp("op_cast")))


def _model(src: str, dst: str, shape: tuple[int, ...]) -> bytes:
    tensors = [T("x", shape, src, [0.5], [3]), T("y", shape, dst, [0.25], [-1])]
    return build_model(tensors, [Op("CAST", [0], [1], {"in_data_type": src, "out_data_type": dst})], [0], [1])


def _values(dtype: str) -> np.ndarray:
    """The type's rails, values around the narrower types' rails (where narrowing wraps) and seeded ones."""
    info = np.iinfo(dtype)
    edges = [info.min, info.min + 1, -129, -128, -1, 0, 1, 127, 128, 255, 256, 32767, 32768, 65535, info.max - 1]
    fixed = [v for v in edges if info.min <= v <= info.max] + [int(info.max)]
    rng = np.random.default_rng([91, info.bits])
    seeded = rng.integers(int(info.min), int(info.max) + 1, 64 - len(fixed), dtype=np.int64)
    return np.array(fixed + seeded.tolist(), np.int64).astype(dtype).reshape(1, 8, 8)


@needs_tflm
@pytest.mark.parametrize(("src", "dst"), list(itertools.permutations(TYPES, 2)))
def test_every_integer_pair_over_the_whole_range(kernel: tuple[Any, Any], src: str, dst: str) -> None:
    x = _values(src)
    model = _model(src, dst, x.shape)
    want = run_tflm(model, x)[0]
    assert want.dtype == np.dtype(dst)
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == ["cast"]
    np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want)
    np.testing.assert_array_equal(run_graph_c(*kernel, graph, x).reshape(want.shape), want)
    np.testing.assert_array_equal(want, x.astype(np.int64).astype(dst))  # static_cast: value or low bits


@pytest.mark.parametrize(
    ("src", "dst", "fragment"),
    [
        ("int8", "float32", "float model: output 0 tensor 1 'y'"),  # the float check runs before the operator's
        ("float32", "int8", "float model: input 0 tensor 0 'x'"),
        ("uint8", "int8", "CAST: input type uint8: supported are int8, int16, int32"),
        ("int8", "uint8", "CAST: output type uint8: supported are int8, int16, int32"),
    ],
)
def test_float_and_uint8_casts_are_refused_by_name(src: str, dst: str, fragment: str) -> None:
    with pytest.raises(BadInput, match=fragment) as e:
        lower_model(parse_tflite(_model(src, dst, (1, 4))))
    assert "\n" not in str(e.value) and "operator 0 (CAST)" in str(e.value)


@needs_tflm
@pytest.mark.qemu
@pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
def test_int16_input_to_int32_output_in_qemu(tmp_path: Path) -> None:
    """An audio front end's first step: 16-bit PCM in, int32 out; both model boundaries are not int8."""
    from tinyml_cosim.orchestrate.model_check import check_model

    model = tmp_path / "pcm_cast.tflite"
    model.write_bytes(_model("int16", "int32", (1, 160)))
    rep = check_model(model, load_board("stm32f405"), vectors=3)
    assert rep["run_status"] == "exited" and rep["bit_exact"] is True and rep["mismatched_vectors"] == [], rep
