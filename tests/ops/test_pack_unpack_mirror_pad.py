"""PACK (of activations: a concatenation along a new axis), UNPACK (one SLICE per output) and MIRROR_PAD (REFLECT and
SYMMETRIC, four index tables) of int8 tensors: numpy, the host-built C and the emitted model (PACK) vs tflite-micro,
byte for byte, over every axis (negative ones too), 1-D to 4-D, batch 2, the largest paddings TFLM allows; the
refusals (a padding past TFLM's limit, requantizing outputs, shapes that do not fit); PACK -> UNPACK in QEMU."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tflite_ops_writer  # noqa: F401  (registers the options writers)
from hostbuild import build_library, load, run_graph_c
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph_outputs
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
Q = ([0.05], [3])


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load(build_library(tmp_path_factory.mktemp("pack") / "libcosim_nn.so"))


def _x(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng([181, seed, len(shape)]).integers(-128, 128, shape).astype(np.int8)


def _check(lib: tuple[Any, Any], model: bytes, xs: list[np.ndarray]) -> list[np.ndarray]:
    want = run_tflm(model, xs)
    graph = lower_model(parse_tflite(model))
    got = run_graph_outputs(graph, xs)
    for k, w in enumerate(want):
        np.testing.assert_array_equal(got[k].reshape(w.shape), w, err_msg=f"numpy, output {k}")
    c = run_graph_c(*lib, graph, xs)  # the first output through the C kernels
    np.testing.assert_array_equal(c.reshape(want[0].shape), want[0], err_msg="C")
    return want


def pack_model(shape: tuple[int, ...], n: int, axis: int) -> bytes:
    a = axis % (len(shape) + 1)
    out = (*shape[:a], n, *shape[a:])
    tensors = [*(T(f"x{k}", shape, "int8", *Q) for k in range(n)), T("y", out, "int8", *Q)]
    return build_model(
        tensors, [Op("PACK", list(range(n)), [n], {"values_count": n, "axis": axis})], list(range(n)), [n]
    )


def unpack_model(shape: tuple[int, ...], axis: int) -> bytes:
    a = axis % len(shape)
    out = tuple(d for i, d in enumerate(shape) if i != a)
    n = shape[a]
    tensors = [T("x", shape, "int8", *Q), *(T(f"y{k}", out, "int8", *Q) for k in range(n))]
    outs = list(range(1, n + 1))
    return build_model(tensors, [Op("UNPACK", [0], outs, {"num": n, "axis": axis})], [0], outs)


def mirror_model(shape: tuple[int, ...], pads: list[tuple[int, int]], mode: int, **kw: Any) -> bytes:
    out = tuple(d + a + b for d, (a, b) in zip(shape, pads, strict=True))
    tensors = [
        T("x", shape, "int8", *Q),
        T("pads", (len(shape), 2), "int32", data=np.array(pads, np.int32)),
        T("y", kw.get("out", out), "int8", [kw.get("out_scale", Q[0][0])], Q[1]),
    ]
    return build_model(tensors, [Op("MIRROR_PAD", [0, 1], [2], {"mode": mode})], [0], [2])


@needs_tflm
@pytest.mark.parametrize(
    ("shape", "n", "axis"), [((4,), 3, 0), ((1, 5, 3), 2, 1), ((1, 5, 3), 4, -1), ((2, 3, 4), 2, 0)]
)
def test_pack(lib: tuple[Any, Any], shape: tuple[int, ...], n: int, axis: int) -> None:
    xs = [_x(shape, k) for k in range(n)]
    want = _check(lib, pack_model(shape, n, axis), xs)
    np.testing.assert_array_equal(want[0], np.stack(xs, axis=axis))


@needs_tflm
@pytest.mark.parametrize(("shape", "axis"), [((3, 4), 0), ((1, 3, 5, 4), 1), ((2, 3, 4), -1), ((1, 2, 3, 2), 3)])
def test_unpack(lib: tuple[Any, Any], shape: tuple[int, ...], axis: int) -> None:
    x = _x(shape, 7)
    want = _check(lib, unpack_model(shape, axis), [x])
    for k, w in enumerate(want):
        np.testing.assert_array_equal(w, np.take(x, k, axis=axis))


MIRRORS = [
    ((1, 4, 5, 2), [(0, 0), (3, 3), (4, 4), (0, 0)], 1),  # SYMMETRIC: up to the dimension
    ((1, 4, 5, 2), [(0, 0), (3, 3), (4, 4), (0, 0)], 0),  # REFLECT: up to the dimension less one
    ((7,), [(2, 5)], 0),
    ((3, 6), [(1, 0), (0, 5)], 1),
    ((2, 3, 4, 2), [(0, 1), (1, 2), (2, 0), (1, 1)], 1),  # every axis, batch too
]


@needs_tflm
@pytest.mark.parametrize(("shape", "pads", "mode"), MIRRORS, ids=[f"{m[0]}-{m[2]}-{i}" for i, m in enumerate(MIRRORS)])
def test_mirror_pad(lib: tuple[Any, Any], shape: tuple[int, ...], pads: list[tuple[int, int]], mode: int) -> None:
    x = _x(shape, 9)
    want = _check(lib, mirror_model(shape, pads, mode), [x])
    np.testing.assert_array_equal(want[0], np.pad(x, pads, mode="reflect" if mode == 0 else "symmetric"))


@pytest.mark.parametrize(
    ("model", "fragment"),
    [
        (lambda: mirror_model((1, 4, 3), [(0, 0), (4, 0), (0, 0)], 0), r"paddings 4, 0 of axis 1 \(4\): each must"),
        (lambda: mirror_model((1, 4, 3), [(0, 0), (5, 0), (0, 0)], 1), r"paddings 5, 0 of axis 1 \(4\)"),
        (lambda: mirror_model((1, 4, 3), [(0, 0), (1, 0), (0, 0)], 0, out_scale=0.1), "quantization differ"),
        (lambda: mirror_model((1, 4, 3), [(0, 0), (1, 0), (0, 0)], 0, out=(1, 6, 3)), "the paddings make"),
    ],
)
def test_refusals(model: Any, fragment: str) -> None:
    with pytest.raises(BadInput, match=fragment) as e:
        lower_model(parse_tflite(model()))
    assert "\n" not in str(e.value)


def test_pack_of_unequal_inputs_is_refused() -> None:
    tensors = [T("a", (1, 3), "int8", *Q), T("b", (1, 4), "int8", *Q), T("y", (1, 2, 3), "int8", *Q)]
    model = build_model(tensors, [Op("PACK", [0, 1], [2], {"values_count": 2, "axis": 1})], [0, 1], [2])
    with pytest.raises(BadInput, match=r"input 1 'b' has shape \[1, 4\], input 0 \[1, 3\]"):
        lower_model(parse_tflite(model))


@needs_tflm
@pytest.mark.qemu
@pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
def test_unpack_then_pack_reversed_in_qemu(tmp_path: Path) -> None:
    """UNPACK a (1, 3, 8) tensor on axis 1, MIRROR_PAD the middle row, PACK the three back in reverse order."""
    from tinyml_cosim.orchestrate.model_check import check_model

    tensors = [
        T("x", (1, 3, 8), "int8", *Q),
        *(T(f"u{k}", (1, 8), "int8", *Q) for k in range(3)),
        T("pads", (2, 2), "int32", data=np.array([[0, 0], [0, 0]], np.int32)),
        T("m", (1, 8), "int8", *Q),
        T("y", (1, 3, 8), "int8", *Q),
    ]
    ops = [
        Op("UNPACK", [0], [1, 2, 3], {"num": 3, "axis": 1}),
        Op("MIRROR_PAD", [2, 4], [5], {"mode": 1}),
        Op("PACK", [3, 5, 1], [6], {"values_count": 3, "axis": 1}),
    ]
    model = tmp_path / "unpack_pack.tflite"
    model.write_bytes(build_model(tensors, ops, [0], [6]))
    rep = check_model(model, load_board("stm32f405"), vectors=3)
    assert rep["run_status"] == "exited" and rep["bit_exact"] is True and rep["mismatched_vectors"] == [], rep
