"""MEAN over any adjacent axes, keep_dims true or false: C kernels (host build) and numpy golden vs tflite-micro.

TFLM's int8 MEAN takes one general reduction path whatever keep_dims is, so keep_dims=False is only another output
shape; these cases cover the axes and shapes real models use (global pooling without keep_dims, a time axis of a
[1, T, C] sequence, the channel axis, everything) with seeded scales and zero points at the rails.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import build_library, load, run_graph_c
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")

# (input shape, axes, keep_dims)
SHAPES: list[tuple[tuple[int, ...], list[int], bool]] = [
    ((1, 5, 7, 6), [1, 2], False),  # Keras GlobalAveragePooling2D as TFLite exports it
    ((1, 5, 7, 6), [2, 1], False),
    ((1, 5, 7, 6), [1, 2], True),
    ((1, 12, 10), [1], False),  # a [1, T, C] sequence averaged over time
    ((1, 12, 10), [-2], True),
    ((1, 4, 6, 3), [2], False),  # outer = H: one mean per row
    ((1, 4, 6, 3), [3], True),  # the channel axis
    ((1, 4, 6, 3), [-1], False),
    ((1, 4, 6, 3), [1, 2, 3], False),
    ((1, 3, 1, 5, 2), [1, 3], False),  # adjacent once the size-1 axis is ignored
    ((1, 1, 1, 9), [1, 2], False),  # nothing to average: n = 1
    ((2, 9), [1], False),  # batch 2 of a 2-D tensor: outer = 2
    ((1, 60, 40), [1], False),  # n = 60: the 1/n fold with a non-power of two
    ((1, 16, 16, 8), [1, 2], False),  # n = 256
]


def _out_shape(shape: tuple[int, ...], axes: list[int], keep: bool) -> tuple[int, ...]:
    red = {a % len(shape) for a in axes}
    if keep:
        return tuple(1 if d in red else s for d, s in enumerate(shape))
    return tuple(s for d, s in enumerate(shape) if d not in red)


def _mean_model(
    shape: tuple[int, ...], axes: list[int], keep: bool, rng: np.random.Generator
) -> tuple[bytes, np.ndarray]:
    zps = [-128, 127, 0, int(rng.integers(-128, 128))]
    s_in, s_out = float(np.float32(rng.uniform(0.005, 0.3))), float(np.float32(rng.uniform(0.002, 0.3)))
    tensors = [
        T("x", shape, "int8", [s_in], [int(rng.choice(zps))]),
        T("axis", (len(axes),), "int32", data=np.array(axes, np.int32)),
        T("y", _out_shape(shape, axes, keep), "int8", [s_out], [int(rng.choice(zps))]),
    ]
    model = build_model(tensors, [Op("MEAN", [0, 1], [2], {"keep_dims": keep})], [0], [2])
    return model, rng.integers(-128, 128, size=shape).astype(np.int8)


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load(build_library(Path(tmp_path_factory.mktemp("nn_mean")) / "libcosim_nn.so"))


@needs_tflm
@pytest.mark.parametrize(("shape", "axes", "keep"), SHAPES, ids=[f"{s}-{a}-{k}" for s, a, k in SHAPES])
def test_mean_bit_exact(kernels: tuple[Any, Any], shape: tuple[int, ...], axes: list[int], keep: bool) -> None:
    ffi, lib = kernels
    for seed in range(4):
        rng = np.random.default_rng([len(shape), *[a % 7 for a in axes], int(keep), seed])
        model, x = _mean_model(shape, axes, keep, rng)
        if seed == 3:  # the rails: every input at one end
            x = np.full(shape, -128 if shape[-1] % 2 else 127, np.int8)
        graph = lower_model(parse_tflite(model))
        want = run_tflm(model, x)[0]
        assert want.shape == _out_shape(shape, axes, keep)
        np.testing.assert_array_equal(run_graph_c(ffi, lib, graph, x).reshape(want.shape), want)
        np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want)


def test_mean_non_adjacent_axes_refused() -> None:
    model, _ = _mean_model((1, 4, 6, 3), [1, 3], False, np.random.default_rng(0))
    with pytest.raises(BadInput, match=r"operator 0 \(MEAN\).*axes \[1, 3\].*must be adjacent"):
        lower_model(parse_tflite(model))


def test_mean_output_shape_checked() -> None:
    """An output that does not hold one value per kept position is refused, not written past."""
    tensors = [
        T("x", (1, 4, 6, 3), "int8", [0.1], [0]),
        T("axis", (2,), "int32", data=np.array([1, 2], np.int32)),
        T("y", (1, 4), "int8", [0.1], [0]),
    ]
    model = build_model(tensors, [Op("MEAN", [0, 1], [2], {"keep_dims": False})], [0], [2])
    with pytest.raises(BadInput, match=r"output \[1, 4\] has 4 elements"):
        lower_model(parse_tflite(model))


@pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
def test_mean_keep_dims_false_in_qemu(tmp_path: Path) -> None:
    """Global average pooling without keep_dims feeding a classifier, compiled, built and run in the emulator:
    byte for byte with the golden (tflite-micro when installed)."""
    from tinyml_cosim.core.boards import load_board
    from tinyml_cosim.orchestrate.model_check import check_model

    rng = np.random.default_rng(7)
    tensors = [
        T("x", (1, 6, 5, 8), "int8", [0.05], [-3]),
        T("axis", (2,), "int32", data=np.array([1, 2], np.int32)),
        T("gap", (1, 8), "int8", [0.04], [2]),
        T("w", (4, 8), "int8", [0.02], [0], data=rng.integers(-127, 128, (4, 8)).astype(np.int8)),
        T("y", (1, 4), "int8", [0.03], [-1]),
    ]
    ops = [Op("MEAN", [0, 1], [2], {"keep_dims": False}), Op("FULLY_CONNECTED", [2, 3, -1], [4])]
    model = tmp_path / "gap_keep_dims_false.tflite"
    model.write_bytes(build_model(tensors, ops, [0], [4]))
    rep = check_model(model, load_board("stm32f405"), vectors=4)
    assert rep["bit_exact"] is True and rep["mismatched_vectors"] == [] and rep["run_status"] == "exited"
