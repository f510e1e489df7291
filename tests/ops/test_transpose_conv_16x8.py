"""TRANSPOSE_CONV 16x8 (int16 activations, int8 filter, int64 / int16 / no bias): the numpy reference over the
lowered graph and the host-built C kernel vs tflite-micro, byte for byte: SAME and VALID, strides 1 to 3 (unequal
too), batches, outputs cropped and extended, per-channel and per-tensor filters, every fused activation with output
zero points, seeded random shapes; inputs at the int16 rails, extreme multipliers (flushed to zero, the largest
shift TFLM's 64-bit requantization defines), int64 biases near their limits (x * multiplier wrapping), more input
channels than an int32 partial sum holds; output_shape as a model input (as the SEANet models have it); refusals."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tflite_ops_writer  # noqa: F401  (registers the TRANSPOSE_CONV options writer)
from hostbuild import run_graph_c
from kernels_16 import KERNEL_SETS, host_kernels
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.compiler import compile_model
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.ops import transpose_conv_16x8
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite
from tinyml_cosim.orchestrate.model_check import check_model

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
ACTS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
Shape = tuple[int, int, int, int]


@pytest.fixture(scope="module", params=KERNEL_SETS)
def kernels(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    return host_kernels(str(request.param))


def tconv16_model(
    x_shape: Shape,
    out_shape: Shape,
    filt: np.ndarray,
    bias: np.ndarray | None,
    scales: tuple[float, list[float], float],
    options: dict[str, Any],
    zps: tuple[int, int] = (0, 0),
    runtime_shape: bool = False,
    filter_zp: int = 0,
) -> bytes:
    """A one-operator model; `runtime_shape`: output_shape is the model's first input (then x), not a constant."""
    si, sw, so = scales
    shape = np.array(out_shape, np.int32)
    tensors = [
        T("output_shape", (4,), "int32", data=None if runtime_shape else shape),
        T("filter", filt.shape, "int8", sw, [filter_zp] * len(sw), data=filt.astype(np.int8)),
        T("x", x_shape, "int16", [si], [zps[0]]),
    ]
    if bias is not None:
        tensors.append(T("bias", bias.shape, str(bias.dtype), [si * s for s in sw], [0] * len(sw), data=bias))
    tensors.append(T("y", out_shape, "int16", [so], [zps[1]]))
    ins = [0, 1, 2] + ([3] if bias is not None else [-1])
    y = len(tensors) - 1
    return build_model(tensors, [Op("TRANSPOSE_CONV", ins, [y], options)], [0, 2] if runtime_shape else [2], [y])


def check(kernels: tuple[Any, Any], model: bytes, xs: list[np.ndarray], runtime_shape: bool = False) -> np.ndarray:
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == ["transpose_conv_16x8"]
    want = np.zeros(0)
    shape = np.array(graph.tensors[graph.output].shape, np.int32)
    for i, x in enumerate(xs):
        feed: Any = [shape, x] if runtime_shape else x
        want = run_tflm(model, feed)[0]
        np.testing.assert_array_equal(run_graph(graph, feed).reshape(want.shape), want, err_msg=f"numpy, input {i}")
        got = run_graph_c(*kernels, graph, feed)
        np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"C kernel, input {i}")
    return want


def inputs(shape: Shape, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng([91, seed])
    rails = [np.full(shape, v, np.int16) for v in (32767, -32768)]
    return [rng.integers(-32768, 32768, shape).astype(np.int16), *rails]


def _out_scale(si: float, sw: float, taps: int, rng: np.random.Generator) -> float:
    """An output scale putting a typical accumulator (about 1.4e6 * sqrt(taps) at si * sw) between 3000 and 30000."""
    return si * sw * 1.4e6 * taps**0.5 / float(rng.uniform(3000, 30000))


def _case(
    seed: int, x_shape: Shape, out_shape: Shape, k: tuple[int, int], per_channel: bool, bias: str
) -> tuple[np.ndarray, np.ndarray | None, tuple[float, list[float], float]]:
    rng = np.random.default_rng([92, seed])
    oc, ic = out_shape[3], x_shape[3]
    filt = rng.integers(-127, 128, (oc, k[0], k[1], ic)).astype(np.int8)
    sw = [float(s) for s in rng.uniform(0.002, 0.02, oc)] if per_channel else [0.01]
    si = float(rng.uniform(1e-4, 1e-3))
    b = None if bias == "none" else rng.integers(-(2**14), 2**14, oc).astype(bias)
    if bias == "int64":
        b = rng.integers(-(2**24), 2**24, oc).astype(np.int64)
    return filt, b, (si, sw, _out_scale(si, 0.01, k[0] * k[1] * ic, rng))


GEOMETRIES = [  # input, output, kernel, padding, strides (h, w), bias
    ((1, 4, 4, 3), (1, 8, 8, 5), (3, 3), "SAME", (2, 2), "int64"),
    ((1, 4, 5, 3), (1, 9, 11, 2), (3, 3), "VALID", (2, 2), "int16"),
    ((2, 3, 3, 4), (2, 7, 5, 3), (2, 3), "SAME", (2, 1), "none"),  # batches; odd SAME padding on one side
    ((1, 1, 5, 8), (1, 3, 12, 6), (3, 4), "VALID", (1, 2), "int64"),  # the SEANet decoders' shape
    ((1, 4, 4, 3), (1, 12, 13, 5), (3, 3), "VALID", (3, 3), "int64"),  # stride = kernel: disjoint taps
    ((1, 4, 4, 3), (1, 5, 5, 5), (4, 4), "VALID", (2, 2), "int16"),  # smaller than the natural 10x10: cropped
    ((1, 3, 3, 2), (1, 9, 9, 4), (2, 2), "VALID", (2, 2), "int64"),  # larger than the natural 6x6: bias only
    ((1, 2, 2, 8), (1, 6, 6, 1), (5, 5), "SAME", (3, 3), "none"),  # kernel larger than the stride
]


@needs_tflm
@pytest.mark.parametrize(
    "g", GEOMETRIES, ids=[f"{g[3]}_{g[4][0]}x{g[4][1]}_{g[5]}_{i}" for i, g in enumerate(GEOMETRIES)]
)
def test_geometries(kernels: tuple[Any, Any], g: Any) -> None:
    x_shape, out_shape, k, padding, (sh, sw), bias = g
    seed = GEOMETRIES.index(g)
    filt, b, scales = _case(seed, x_shape, out_shape, k, per_channel=seed % 2 == 0, bias=bias)
    model = tconv16_model(x_shape, out_shape, filt, b, scales, {"padding": padding, "stride_h": sh, "stride_w": sw})
    want = check(kernels, model, inputs(x_shape, seed))
    assert len(np.unique(want)) > 3


@needs_tflm
@pytest.mark.parametrize("seed", range(6))
def test_seeded_random(kernels: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([93, seed])
    b, ih, iw = 1 + seed % 2, int(rng.integers(1, 6)), int(rng.integers(1, 6))
    ic, oc = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    kh, kw, sh, sw = (int(v) for v in rng.integers(1, 5, 4))
    padding = ["SAME", "VALID"][seed % 2]
    natural = (ih * sh, iw * sw) if padding == "SAME" else ((ih - 1) * sh + kh, (iw - 1) * sw + kw)
    out = (b, natural[0] + int(rng.integers(-1, 2)), natural[1], oc)  # one row more or less at times
    act = ACTS[seed % 4]
    bias = ["int64", "int16", "none"][seed % 3]
    filt, bias_v, scales = _case(100 + seed, (b, ih, iw, ic), out, (kh, kw), per_channel=seed % 3 != 1, bias=bias)
    options = {"padding": padding, "stride_h": sh, "stride_w": sw, "activation": act}
    zps = (int(rng.integers(-50, 50)), int(rng.integers(-300, 300)) if act != "NONE" else 0)
    check(
        kernels, tconv16_model((b, ih, iw, ic), out, filt, bias_v, scales, options, zps), inputs((b, ih, iw, ic), seed)
    )


@needs_tflm
@pytest.mark.parametrize("activation", ACTS)
def test_activations_with_output_zero_point(kernels: tuple[Any, Any], activation: str) -> None:
    filt, b, (si, sw, _) = _case(40, (1, 3, 4, 4), (1, 6, 8, 3), (3, 3), True, "int64")
    options = {"padding": "SAME", "stride_h": 2, "stride_w": 2, "activation": activation}
    model = tconv16_model((1, 3, 4, 4), (1, 6, 8, 3), filt, b, (si, sw, 1 / 4096), options, (0, -1000))
    want = check(kernels, model, inputs((1, 3, 4, 4), 40))
    lo, hi = {"NONE": (-32768, 32767), "RELU": (-1000, 32767), "RELU6": (-1000, 23576), "RELU_N1_TO_1": (-5096, 3096)}[
        activation
    ]
    assert want.min() >= lo and want.max() <= hi and (want.min() == lo or want.max() == hi)


EXTREMES = [  # (name, output scale over input * filter scale, bias values)
    ("flushed_to_zero", 2.0**34, None),  # the multiplier is below 2^-32: 0, every output 0
    ("largest_shift", 2.0**-13.5, None),  # shift 14: the largest TFLM's 64-bit requantization defines
    ("int64_bias_near_max", 2.0**10, [2**62, -(2**62), 2**63 - 1, -(2**63)]),  # x * multiplier wraps int64
    ("int64_bias_near_2_47", 1.0, [2**47 - 1, -(2**47), 2**46, 0]),
    ("int16_bias_at_rails", 1.0, np.array([32767, -32768, 1, -1], np.int16)),
]


@needs_tflm
@pytest.mark.parametrize(("name", "ratio", "bias"), EXTREMES, ids=[e[0] for e in EXTREMES])
def test_extreme_multipliers_and_biases(kernels: tuple[Any, Any], name: str, ratio: float, bias: Any) -> None:
    si, sw = 0.0005, 0.004
    filt = np.random.default_rng(94).integers(-127, 128, (4, 3, 3, 4)).astype(np.int8)
    filt.reshape(-1)[:2] = (127, -128)
    b = None if bias is None else bias if isinstance(bias, np.ndarray) else np.array(bias, np.int64)
    model = tconv16_model((1, 3, 3, 4), (1, 6, 6, 4), filt, b, (si, [sw], si * sw * ratio), {"padding": "SAME"})
    want = check(kernels, model, inputs((1, 3, 3, 4), 94))
    if name == "flushed_to_zero":
        assert not want.any()


@needs_tflm
def test_more_input_channels_than_an_int32_partial_sum_holds(kernels: tuple[Any, Any]) -> None:
    """1100 products of -32768 * -128 = 2^22 sum to 4.6e9: the C kernel's int32 partial sums (511 terms) must not
    wrap; a per-tensor scale brings the total back into the int16 range."""
    filt = np.full((2, 2, 2, 1100), -128, np.int8)
    filt[1] = 127
    si, sw = 0.001, 0.01
    model = tconv16_model((1, 1, 1, 1100), (1, 2, 2, 2), filt, None, (si, [sw], si * sw * 2**18), {"padding": "VALID"})
    want = check(kernels, model, [np.full((1, 1, 1, 1100), -32768, np.int16), *inputs((1, 1, 1, 1100), 95)[:1]])
    assert want.size == 8


@needs_tflm
def test_output_shape_as_a_model_input(kernels: tuple[Any, Any]) -> None:
    """As the SEANet models have it: TFLM never reads output_shape, the kernel gets it and ignores it too."""
    filt, b, scales = _case(50, (1, 2, 6, 8), (1, 4, 14, 6), (3, 4), True, "int64")
    model = tconv16_model((1, 2, 6, 8), (1, 4, 14, 6), filt, b, scales, {"stride_w": 2}, runtime_shape=True)
    check(kernels, model, inputs((1, 2, 6, 8), 50), runtime_shape=True)
    layer = lower_model(parse_tflite(model)).layers[0]
    assert isinstance(layer.args[0], int) and len(layer.args) == 2  # the arena tensor, then x


def test_scratch_is_the_int64_accumulator_and_the_bias_int64(tmp_path: Path) -> None:
    filt, b, scales = _case(60, (1, 4, 4, 3), (1, 8, 8, 5), (3, 3), True, "int16")
    model = tmp_path / "tconv16.tflite"
    model.write_bytes(tconv16_model((1, 4, 4, 3), (1, 8, 8, 5), filt, b, scales, {"stride_h": 2, "stride_w": 2}))
    layer = lower_model(parse_tflite(model.read_bytes(), model)).layers[0]
    assert transpose_conv_16x8.scratch_bytes(layer) == 8 * 8 * 8 * 5
    assert layer.macs == 4 * 4 * 3 * 3 * 3 * 5 and layer.params == 5 * 3 * 3 * 3 + 5
    compile_model(model, load_board("stm32f405"), tmp_path / "out")
    text = (tmp_path / "out" / "model.c").read_text()
    assert "static const int64_t L0_bias[5]" in text and "static const int32_t L0_output_shape[4]" in text
    arena = r"\(A \+ \d+\)"  # the input, the output, then the scratch buffer: all in the arena
    call = rf"cosim_transpose_conv_16x8\(&L0, L0_output_shape, \(const void \*\){arena}, \(void \*\){arena}, "
    assert re.search(rf"{call}\(void \*\){arena}\);", text), text


REFUSALS = [
    ({"activation": "TANH"}, {}, "fused_activation_function TANH"),
    ({"padding": 2}, {}, "padding 2"),
    ({}, {"bias": np.zeros(5, np.int32)}, "must be a constant int64 (or int16) tensor"),
    ({}, {"bias": np.zeros(4, np.int64)}, "bias has 4 values, expected 5"),
    ({}, {"ratio": 2.0**-14.5}, "takes ratios below 2^14"),
    ({}, {"filter_zp": 1}, "non-zero zero point"),
]


@pytest.mark.parametrize(
    ("options", "change", "fragment"), REFUSALS, ids=[r[2].split()[0] + str(i) for i, r in enumerate(REFUSALS)]
)
def test_refusals(options: dict[str, Any], change: dict[str, Any], fragment: str, tmp_path: Path) -> None:
    filt, b, (si, sw, so) = _case(80, (1, 4, 4, 5), (1, 8, 8, 5), (3, 3), True, "int64")
    b = change.get("bias", b)
    if "ratio" in change:
        so = si * max(sw) * change["ratio"]
    options = {"stride_h": 2, "stride_w": 2, **options}
    path = tmp_path / "bad.tflite"
    path.write_bytes(
        tconv16_model((1, 4, 4, 5), (1, 8, 8, 5), filt, b, (si, sw, so), options, filter_zp=change.get("filter_zp", 0))
    )
    with pytest.raises(BadInput) as err:
        lower_model(parse_tflite(path.read_bytes(), path))
    msg = str(err.value)
    assert msg.startswith(f"{path}: operator 0 (TRANSPOSE_CONV)") and fragment in msg and "\n" not in msg, msg


@pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
def test_seanet_like_model_in_qemu(tmp_path: Path) -> None:
    """A SEANet decoder's shape (output_shape a model input, VALID, stride 1x2, 3x4 kernel, int64 bias) on the
    board: bit-exact with tflite-micro for random inputs (the random output_shape input is never read)."""
    filt, b, scales = _case(70, (1, 2, 10, 16), (1, 4, 22, 8), (3, 4), True, "int64")
    model = tmp_path / "seanet_like.tflite"
    model.write_bytes(
        tconv16_model((1, 2, 10, 16), (1, 4, 22, 8), filt, b, scales, {"stride_w": 2}, runtime_shape=True)
    )
    rep = check_model(model, load_board("stm32f405"), kernels="ref", vectors=2)
    assert rep["run_status"] == "exited" and rep["bit_exact"] is True and rep["mismatched_vectors"] == [], rep
