"""PAD and PADV2 of int8 and int16 activations: the lowered graph (numpy golden and the host-built C kernel) vs
tflite-micro, byte for byte, for seeded random shapes (1-D to 4-D) and paddings; the pad value TFLM uses (the output
zero point for int8 PAD, 0 for int16 PAD whatever the zero point, PADV2's constant for both); the refusals."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import run_graph_c
from hostops import load_op
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
KIND = {"int8": "pad", "int16": "pad_s16"}


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("pad", Path(tmp_path_factory.mktemp("op_pad")))


def _model(shape: tuple[int, ...], pads: np.ndarray, dtype: str, zp: int, value: int | None = None) -> bytes:
    out = tuple(int(d + a + b) for d, (a, b) in zip(shape, pads, strict=True))
    tensors = [
        T("x", shape, dtype, [0.004], [zp]),
        T("pads", pads.shape, "int32", data=pads.astype(np.int32)),
        T("y", out, dtype, [0.004], [zp]),
    ]
    if value is None:
        return build_model(tensors, [Op("PAD", [0, 1], [2])], [0], [2])
    tensors.insert(2, T("v", (1,), dtype, [0.004], [zp], data=np.array([value], dtype)))
    return build_model(tensors, [Op("PADV2", [0, 1, 2], [3])], [0], [3])


def _check(kernel: tuple[Any, Any], model: bytes, x: np.ndarray, pad_value: int) -> None:
    want = run_tflm(model, x)[0]
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == [KIND[str(x.dtype)]]
    assert graph.layers[0].prepared.pad_value == pad_value
    np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want, err_msg="numpy")
    np.testing.assert_array_equal(run_graph_c(*kernel, graph, x).reshape(want.shape), want, err_msg="C")


def _x(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)


@needs_tflm
@pytest.mark.parametrize("dtype", ["int8", "int16"])
@pytest.mark.parametrize("seed", range(10))
def test_seeded_random_pads(kernel: tuple[Any, Any], dtype: str, seed: int) -> None:
    rng = np.random.default_rng([seed, len(dtype)])
    shape = tuple(int(d) for d in rng.integers(1, 6, int(rng.integers(1, 5))))
    pads = rng.integers(0, 4, (len(shape), 2))
    zp = int(rng.integers(-20, 20)) if dtype == "int8" else 0
    value = None if seed % 2 else int(rng.integers(-100, 100))
    _check(kernel, _model(shape, pads, dtype, zp, value), _x(rng, shape, dtype), zp if value is None else value)


@needs_tflm
def test_int16_pad_fills_0_whatever_the_zero_point(kernel: tuple[Any, Any]) -> None:
    """TFLM's int16 PAD pads 0, not the output zero point (its int8 PAD pads the zero point)."""
    pads = np.array([[0, 0], [1, 2], [2, 1], [0, 0]])
    x = _x(np.random.default_rng(5), (1, 3, 4, 2), "int16")
    _check(kernel, _model((1, 3, 4, 2), pads, "int16", 77), x, 0)
    _check(kernel, _model((1, 3, 4, 2), pads, "int16", 77, value=-32768), x, -32768)
    x8 = _x(np.random.default_rng(6), (1, 3, 4, 2), "int8")
    _check(kernel, _model((1, 3, 4, 2), pads, "int8", 77), x8, 77)


def test_refusals_name_the_reason() -> None:
    with pytest.raises(BadInput, match=r"operator 0 \(PAD\): negative padding is not supported"):
        lower_model(parse_tflite(_model((1, 4, 4, 2), np.array([[0, 0], [-1, 0], [0, 0], [0, 0]]), "int16", 0)))
    tensors = [T("x", (1, 4), "int16", [0.004], [0]), T("p", (2, 2), "int32"), T("y", (1, 6), "int16", [0.004], [0])]
    with pytest.raises(BadInput, match=r"operator 0 \(PAD\): paddings must be a constant int32 tensor"):
        lower_model(parse_tflite(build_model(tensors, [Op("PAD", [0, 1], [2])], [0, 1], [2])))
    pads = T("p", (2, 2), "int32", data=np.array([[0, 0], [1, 1]], np.int32))
    tensors = [T("x", (1, 4), "int16", [0.004], [0]), pads, T("y", (1, 6), "int16", [0.008], [0])]
    with pytest.raises(BadInput, match=r"operator 0 \(PAD\): int16 PAD needs equal input and output quantization"):
        lower_model(parse_tflite(build_model(tensors, [Op("PAD", [0, 1], [2])], [0], [2])))
    v = T("v", (1,), "int8", [0.008], [0], data=np.array([5], np.int8))  # not the output's quantization
    tensors = [T("x", (1, 4), "int8", [0.004], [0]), pads, v, T("y", (1, 6), "int8", [0.004], [0])]
    model = build_model(tensors, [Op("PADV2", [0, 1, 2], [3])], [0], [3])
    with pytest.raises(BadInput, match=r"operator 0 \(PADV2\): constant value .*TFLM needs the output's scale"):
        lower_model(parse_tflite(model))
    if tflm_available():
        with pytest.raises(RuntimeError):  # and TFLM itself does not prepare it
            run_tflm(model, np.zeros((1, 4), np.int8))
