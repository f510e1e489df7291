"""TRANSPOSE_CONV (int8): the numpy reference over the lowered graph and the host-built C kernel vs tflite-micro,
byte for byte: SAME and VALID, strides 1 to 3 (unequal too), every fused activation TFLM clamps for, per-channel and
per-tensor filters, with and without bias, batches, output sizes other than the natural one (TFLM crops / leaves
zeros), the rails, exact rounding ties, multipliers above 1 and tiny ones, seeded random shapes; a small detection
head (CONV_2D -> TRANSPOSE_CONV -> RESIZE_NEAREST_NEIGHBOR -> TRANSPOSE) through the whole compiler; refusals."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tflite_ops_writer  # noqa: F401  (registers the TRANSPOSE_CONV, TRANSPOSE, RESIZE options writers)
from hostbuild import build_library, load, run_graph_c
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.compiler import compile_model
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.ops import transpose_conv
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
Q = tuple[float, int]


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    path = build_library(Path(tmp_path_factory.mktemp("nn_tconv")) / "libcosim_nn.so")
    ffi, lib = load(path)
    return ffi, lib, path


def tconv_tensors(
    x_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    filt: np.ndarray,
    bias: np.ndarray | None,
    quant: tuple[Q, list[float], Q],
    qdim: int = 0,
) -> list[T]:
    """x, output_shape, filter, bias (when given), y: the input first, as the registry's cases want it."""
    (sx, zx), f_scales, (sy, zy) = quant
    t = [
        T("x", x_shape, "int8", [sx], [zx]),
        T("output_shape", (4,), "int32", data=np.array(out_shape, np.int32)),
        T("filter", filt.shape, "int8", list(f_scales), [0] * len(f_scales), qdim=qdim, data=filt.astype(np.int8)),
    ]
    if bias is not None:
        t.append(T("bias", bias.shape, "int32", [sx * s for s in f_scales], [0] * len(f_scales), data=bias))
    return [*t, T("y", out_shape, "int8", [sy], [zy])]


def tconv_model(tensors: list[T], options: dict[str, Any], bias_slot: bool = True) -> bytes:
    has_bias = tensors[3].name == "bias"
    ins = [1, 2, 0] + ([3] if has_bias else [-1] if bias_slot else [])
    return build_model(tensors, [Op("TRANSPOSE_CONV", ins, [len(tensors) - 1], options)], [0], [len(tensors) - 1])


def _check(kernels: tuple[Any, Any, Path], model: bytes, xs: list[np.ndarray]) -> np.ndarray:
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == ["transpose_conv"]
    want = np.zeros(0)
    for i, x in enumerate(xs):
        want = run_tflm(model, x)[0]
        np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want, err_msg=f"numpy, input {i}")
        got = run_graph_c(kernels[0], kernels[1], graph, x)
        np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"C kernel, input {i}")
    return want


def _random(rng: np.random.Generator, shape: tuple[int, ...], lo: int = -128, hi: int = 128) -> np.ndarray:
    return rng.integers(lo, hi, shape).astype(np.int8)


def _case(
    seed: int,
    x_shape: tuple[int, int, int, int],
    out_shape: tuple[int, int, int, int],
    k: tuple[int, int],
    per_channel: bool = True,
    bias: bool = True,
) -> tuple[list[T], list[np.ndarray]]:
    rng = np.random.default_rng([71, seed])
    oc, ic = out_shape[3], x_shape[3]
    filt = _random(rng, (oc, k[0], k[1], ic), -127)
    scales = [float(s) for s in rng.uniform(0.002, 0.02, oc)] if per_channel else [0.007]
    b = rng.integers(-20000, 20000, oc).astype(np.int32) if bias else None
    quant = ((0.05, int(rng.integers(-20, 20))), scales, (0.08, int(rng.integers(-10, 10))))
    xs = [_random(rng, x_shape), np.full(x_shape, -128, np.int8), np.full(x_shape, 127, np.int8)]
    return tconv_tensors(x_shape, out_shape, filt, b, quant), xs  # type: ignore[arg-type]


GEOMETRIES = [  # input, output, kernel, padding, strides (h, w)
    ((1, 4, 4, 3), (1, 8, 8, 5), (3, 3), "SAME", (2, 2)),
    ((1, 4, 5, 3), (1, 9, 11, 2), (3, 3), "VALID", (2, 2)),
    ((2, 3, 3, 4), (2, 7, 5, 3), (2, 3), "SAME", (2, 1)),  # batches; odd SAME padding on one side
    ((1, 4, 4, 3), (1, 5, 6, 5), (3, 3), "SAME", (1, 2)),  # a leading pad of 1
    ((1, 4, 4, 3), (1, 12, 13, 5), (3, 3), "VALID", (3, 3)),  # stride = kernel: disjoint taps
    ((1, 4, 4, 3), (1, 5, 5, 5), (4, 4), "VALID", (2, 2)),  # output smaller than the natural 10x10: cropped
    ((1, 3, 3, 2), (1, 9, 9, 4), (2, 2), "VALID", (2, 2)),  # larger than the natural 6x6: untouched rows are bias
    ((1, 5, 3, 1), (1, 5, 3, 1), (1, 1), "SAME", (1, 1)),  # 1x1: a per-channel scale of the input
    ((1, 2, 2, 8), (1, 6, 6, 1), (5, 5), "SAME", (3, 3)),  # kernel larger than the stride, one output channel
]


@needs_tflm
@pytest.mark.parametrize(
    "geometry", GEOMETRIES, ids=[f"{g[3]}_{g[4][0]}x{g[4][1]}_{i}" for i, g in enumerate(GEOMETRIES)]
)
def test_transpose_conv_geometries(kernels: tuple[Any, Any, Path], geometry: Any) -> None:
    x_shape, out_shape, k, padding, (sh, sw) = geometry
    seed = GEOMETRIES.index(geometry)
    tensors, xs = _case(seed, x_shape, out_shape, k, per_channel=seed % 2 == 0, bias=seed % 3 != 2)
    _check(kernels, tconv_model(tensors, {"padding": padding, "stride_h": sh, "stride_w": sw}), xs)


@needs_tflm
@pytest.mark.parametrize("activation", ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])
def test_transpose_conv_activations(kernels: tuple[Any, Any, Path], activation: str) -> None:
    tensors, xs = _case(40, (1, 3, 4, 4), (1, 6, 8, 3), (3, 3))
    tensors[-1] = T("y", (1, 6, 8, 3), "int8", [0.01], [-20])  # a fine output scale: every clamp bites
    want = _check(
        kernels, tconv_model(tensors, {"padding": "SAME", "stride_h": 2, "stride_w": 2, "activation": activation}), xs
    )
    lo, hi = {"NONE": (-128, 127), "RELU": (-20, 127), "RELU6": (-20, 127), "RELU_N1_TO_1": (-120, 80)}[activation]
    assert want.min() >= lo and want.max() <= hi and (want.min() == lo or want.max() == hi)


@needs_tflm
@pytest.mark.parametrize("bias_slot", [True, False], ids=["bias_index_minus_1", "three_inputs"])
def test_transpose_conv_without_bias(kernels: tuple[Any, Any, Path], bias_slot: bool) -> None:
    tensors, xs = _case(50, (1, 4, 3, 2), (1, 8, 6, 3), (3, 3), bias=False)
    model = tconv_model(tensors, {"padding": "SAME", "stride_h": 2, "stride_w": 2}, bias_slot=bias_slot)
    _check(kernels, model, xs)
    assert lower_model(parse_tflite(model)).layers[0].p["bias"] is None  # emitted as NULL


@needs_tflm
@pytest.mark.parametrize(
    ("f_scale", "quant"),
    [
        (1.0, ((0.5, 0), (1.0, 0))),  # multiplier exactly 0.5: every odd accumulator is a rounding tie
        (0.25, ((0.5, -1), (0.03125, 3))),  # 4.0: a left shift, saturating at the rails
        (1e-4, ((0.01, 0), (50.0, 0))),  # 2e-8: shift near the bound, nearly everything the zero point
    ],
    ids=["ties", "multiplier_above_one", "tiny_multiplier"],
)
def test_transpose_conv_extreme_scales(kernels: tuple[Any, Any, Path], f_scale: float, quant: tuple[Q, Q]) -> None:
    rng = np.random.default_rng(72)
    filt = _random(rng, (2, 2, 2, 3), -2, 3)  # small taps: sums near the tie points and zero
    tensors = tconv_tensors((1, 3, 3, 3), (1, 6, 6, 2), filt, None, (quant[0], [f_scale], quant[1]))
    xs = [_random(rng, (1, 3, 3, 3), -3, 4), _random(rng, (1, 3, 3, 3)), np.full((1, 3, 3, 3), 127, np.int8)]
    _check(kernels, tconv_model(tensors, {"padding": "VALID", "stride_h": 2, "stride_w": 2}), xs)


@needs_tflm
@pytest.mark.parametrize("seed", range(5))
def test_transpose_conv_seeded(kernels: tuple[Any, Any, Path], seed: int) -> None:
    rng = np.random.default_rng([73, seed])
    b, ih, iw = 1 + seed % 2, int(rng.integers(1, 6)), int(rng.integers(1, 6))
    ic, oc = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    kh, kw, sh, sw = (int(v) for v in rng.integers(1, 5, 4))
    padding = ["SAME", "VALID"][seed % 2]
    natural = (ih * sh, iw * sw) if padding == "SAME" else ((ih - 1) * sh + kh, (iw - 1) * sw + kw)
    out = (b, natural[0], natural[1], oc)
    tensors, xs = _case(100 + seed, (b, ih, iw, ic), out, (kh, kw), per_channel=bool(seed % 3), bias=seed != 3)
    options = {"padding": padding, "stride_h": sh, "stride_w": sw, "activation": ["NONE", "RELU", "RELU6"][seed % 3]}
    _check(kernels, tconv_model(tensors, options), [xs[0], _random(rng, xs[0].shape)])


def test_transpose_conv_scratch_is_the_int32_accumulator(tmp_path: Path) -> None:
    tensors, _ = _case(60, (1, 4, 4, 3), (1, 8, 8, 5), (3, 3))
    model = tmp_path / "tconv.tflite"
    model.write_bytes(tconv_model(tensors, {"padding": "SAME", "stride_h": 2, "stride_w": 2}))
    graph = lower_model(parse_tflite(model.read_bytes(), model))
    layer = graph.layers[0]
    assert transpose_conv.scratch_bytes(layer) == 8 * 8 * 5 * 4
    assert layer.macs == 4 * 4 * 3 * 3 * 3 * 5 and layer.params == 5 * 3 * 3 * 3 + 5
    compile_model(model, load_board("stm32f405"), tmp_path / "out")
    text = (tmp_path / "out" / "model.c").read_text()
    assert re.search(r"static const int8_t L0_filter\[135\]", text) and "static const int32_t L0_bias[5]" in text
    arena = r"\(A \+ \d+\)"  # the input, the output, then the scratch buffer: all in the arena
    call = rf"cosim_transpose_conv_s8\(&L0, \(const int8_t \*\){arena}, \(int8_t \*\){arena}, \(void \*\){arena}\);"
    assert re.search(call, text), text


def _head_model() -> bytes:
    """A small detection head: 3x3 conv, a 2x upsampling TRANSPOSE_CONV, nearest 2x, then channels first."""
    rng = np.random.default_rng(74)
    conv_f = _random(rng, (6, 3, 3, 4), -127)
    tc_f = _random(rng, (5, 3, 3, 6), -127)
    t = [
        T("x", (1, 6, 6, 4), "int8", [0.04], [-10]),
        T("conv_f", (6, 3, 3, 4), "int8", [float(s) for s in rng.uniform(0.003, 0.01, 6)], [0] * 6, data=conv_f),
        T("conv_b", (6,), "int32", data=rng.integers(-3000, 3000, 6).astype(np.int32)),
        T("c", (1, 6, 6, 6), "int8", [0.06], [-128]),
        T("os", (4,), "int32", data=np.array([1, 12, 12, 5], np.int32)),
        T("tc_f", (5, 3, 3, 6), "int8", [float(s) for s in rng.uniform(0.003, 0.01, 5)], [0] * 5, data=tc_f),
        T("tc_b", (5,), "int32", data=rng.integers(-3000, 3000, 5).astype(np.int32)),
        T("u", (1, 12, 12, 5), "int8", [0.05], [4]),
        T("size", (2,), "int32", data=np.array([24, 24], np.int32)),
        T("r", (1, 24, 24, 5), "int8", [0.05], [4]),
        T("perm", (4,), "int32", data=np.array([0, 3, 1, 2], np.int32)),
        T("y", (1, 5, 24, 24), "int8", [0.05], [4]),
    ]
    ops = [
        Op("CONV_2D", [0, 1, 2], [3], {"padding": "SAME", "activation": "RELU"}),
        Op("TRANSPOSE_CONV", [4, 5, 3, 6], [7], {"padding": "SAME", "stride_h": 2, "stride_w": 2}),
        Op("RESIZE_NEAREST_NEIGHBOR", [7, 8], [9]),
        Op("TRANSPOSE", [9, 10], [11]),
    ]
    return build_model(t, ops, [0], [11])


@needs_tflm
def test_detection_head_through_the_compiler(kernels: tuple[Any, Any, Path], tmp_path: Path) -> None:
    model = tmp_path / "head.tflite"
    model.write_bytes(_head_model())
    cm = compile_model(model, load_board("stm32f405"), tmp_path / "out")
    lib_path = build_library(
        tmp_path / "libhead.so",
        [tmp_path / "out" / "model.c"],
        include_dirs=[tmp_path / "out"],
        kernel_library=kernels[2],
    )
    ffi, lib = load(lib_path, True)
    raw = ffi.new("uint8_t[]", cm.arena_bytes + 16)
    arena = ffi.cast("uint8_t *", raw) + (-int(ffi.cast("uintptr_t", raw)) % 16)  # 16-byte aligned
    graph = lower_model(parse_tflite(model.read_bytes(), model))
    assert [layer.kind for layer in graph.layers] == ["conv2d", "transpose_conv", "resize_nearest", "transpose"]
    rng = np.random.default_rng(75)
    for i in range(3):
        x = _random(rng, (1, 6, 6, 4))
        want = run_tflm(model.read_bytes(), x)[0]
        out = np.zeros(want.size, np.int8)
        assert lib.cosim_model_reset(arena) == 0
        assert lib.cosim_model_invoke(arena, ffi.from_buffer(x), ffi.from_buffer(out)) == 0
        np.testing.assert_array_equal(out.reshape(want.shape), want, err_msg=f"model.c, input {i}")
        np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want, err_msg=f"numpy, input {i}")
        assert len(np.unique(want)) > 20  # not a saturated head


REFUSALS = [
    ({"activation": "TANH"}, {}, "fused_activation_function TANH"),
    ({"padding": 2}, {}, "padding 2"),
    ({"stride_h": 0}, {}, "strides 0x2"),
    ({}, {"output_shape": [8, 8]}, "output_shape [8, 8]: expected a constant int32[4]"),
    ({}, {"output_shape": None}, "output_shape None: expected a constant"),
    ({}, {"qdim": 3}, "along dimension 3"),
    ({}, {"bias": 4}, "bias has 4 values, expected 5"),
    ({}, {"filter_zp": 1}, "non-zero zero point"),
]


@pytest.mark.parametrize(
    ("options", "change", "fragment"), REFUSALS, ids=[r[2].split()[0] + str(i) for i, r in enumerate(REFUSALS)]
)
def test_transpose_conv_refusals(
    options: dict[str, Any], change: dict[str, Any], fragment: str, tmp_path: Path
) -> None:
    tensors, _ = _case(80, (1, 4, 4, 5), (1, 8, 8, 5), (3, 3))
    if "output_shape" in change:
        shape = change["output_shape"]
        data = None if shape is None else np.array(shape, np.int32)
        tensors[1] = T("output_shape", (4,) if shape is None else data.shape, "int32", data=data)
    if "qdim" in change:
        tensors[2].qdim = change["qdim"]
    if "bias" in change:
        tensors[3] = T("bias", (change["bias"],), "int32", data=np.zeros(change["bias"], np.int32))
    if "filter_zp" in change:
        tensors[2].zero_points = [change["filter_zp"]] * len(tensors[2].scales)
    path = tmp_path / "bad.tflite"
    path.write_bytes(tconv_model(tensors, {"padding": "SAME", "stride_h": 2, "stride_w": 2, **options}))
    with pytest.raises(BadInput) as err:
        lower_model(parse_tflite(path.read_bytes(), path))
    msg = str(err.value)
    assert msg.startswith(f"{path}: operator 0 (TRANSPOSE_CONV)") and fragment in msg and "\n" not in msg, msg
