"""CONV_2D and DEPTHWISE_CONV_2D 16x8 through the compiler (numpy golden and host-built C) vs tflite-micro: seeded
random shapes and options (SAME / VALID, strides, dilations, groups, depth multipliers, per-channel or per-tensor
filters, int64 / int32 / no bias, every fused activation, output zero points), inputs at the int16 rails, extreme
multipliers (flushed to zero, the largest shift TFLM's 64-bit requantization defines), int64 biases near their range
and int32 accumulators that wrap; and what is refused."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import build_library, cmsis_nn_dir, load, run_graph_c
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
ACTS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
KERNEL_SETS = [
    pytest.param("ref"),
    pytest.param("cmsis", marks=pytest.mark.skipif(cmsis_nn_dir() is None, reason="CMSIS_NN_DIR is not set")),
]


@pytest.fixture(scope="module", params=KERNEL_SETS)
def kernels(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    path = Path(tmp_path_factory.mktemp(f"nn_conv16_{request.param}")) / "libcosim_nn.so"
    return load(build_library(path, kernels=str(request.param)))


def _out(size: int, k: int, s: int, d: int, padding: str) -> int:
    return (size + s - 1) // s if padding == "SAME" else (size + s - (k - 1) * d - 1) // s


def conv_model(
    dw: bool,
    x_shape: tuple[int, ...],
    filt: np.ndarray,
    bias: np.ndarray | None,
    scales: tuple[float, list[float], float],
    options: dict[str, Any],
    out_zp: int = 0,
    in_zp: int = 0,
) -> bytes:
    """A one-operator int16 model; the output shape from the padding, strides and dilations."""
    (b, h, w, _), (si, sw, so) = x_shape, scales
    kh, kw = filt.shape[1:3]
    oc = filt.shape[3] if dw else filt.shape[0]
    oh = _out(h, kh, options.get("stride_h", 1), options.get("dilation_h", 1), options.get("padding", "VALID"))
    ow = _out(w, kw, options.get("stride_w", 1), options.get("dilation_w", 1), options.get("padding", "VALID"))
    tensors = [
        T("x", x_shape, "int16", [si], [in_zp]),
        T("f", filt.shape, "int8", sw, [0] * len(sw), qdim=3 if dw else 0, data=filt),
    ]
    if bias is not None:
        tensors.append(T("b", (oc,), str(bias.dtype), [si * s for s in sw], [0] * len(sw), data=bias))
    tensors.append(T("y", (b, oh, ow, oc), "int16", [so], [out_zp]))
    name = "DEPTHWISE_CONV_2D" if dw else "CONV_2D"
    ins = list(range(len(tensors) - 1))
    return build_model(tensors, [Op(name, ins, [len(tensors) - 1], options)], [0], [len(tensors) - 1])


def _inputs(shape: tuple[int, ...], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    rails = [np.full(shape, v, np.int16) for v in (32767, -32768)]
    return [rng.integers(-32768, 32768, shape).astype(np.int16), *rails]


def check(kernels: tuple[Any, Any], model: bytes, x_shape: tuple[int, ...], kind: str, seed: int = 0) -> None:
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == [kind]
    for x in _inputs(x_shape, seed):
        want = run_tflm(model, x)[0]
        np.testing.assert_array_equal(run_graph(graph, x).reshape(want.shape), want, err_msg="numpy")
        np.testing.assert_array_equal(run_graph_c(*kernels, graph, x).reshape(want.shape), want, err_msg="C")


def _random_case(seed: int, dw: bool) -> tuple[bytes, tuple[int, ...]]:
    rng = np.random.default_rng([seed, int(dw)])
    c = int(rng.integers(1, 5)) * (1 if dw else int(rng.choice([1, 2])))
    groups = 1 if dw else int(rng.choice([g for g in (1, 2) if c % g == 0]))
    mult = int(rng.integers(1, 4)) if dw else int(rng.integers(1, 3)) * groups
    oc = c * mult if dw else mult
    kh, kw = (int(v) for v in rng.integers(1, 4, 2))
    options: dict[str, Any] = {
        "padding": str(rng.choice(["SAME", "VALID"])),
        "stride_h": int(rng.integers(1, 3)),
        "stride_w": int(rng.integers(1, 4)),
        "dilation_h": int(rng.integers(1, 3)),
        "dilation_w": int(rng.integers(1, 3)),
        "activation": str(rng.choice(ACTS)),
    }
    if dw:
        options["depth_multiplier"] = mult
    x_shape = (int(rng.integers(1, 3)), int(rng.integers(5, 9)), int(rng.integers(5, 9)), c)
    filt = rng.integers(-127, 128, (1, kh, kw, oc) if dw else (oc, kh, kw, c // groups)).astype(np.int8)
    si = float(rng.uniform(1e-4, 1e-3))
    sw = list(rng.uniform(0.002, 0.02, oc)) if rng.random() < 0.6 else [0.01]
    taps = kh * kw * (1 if dw else c // groups)
    # a typical accumulator (about 1.4e6 * sqrt(taps) at scale si * 0.01) lands between 3000 and 30000: some rails
    so = si * 0.01 * 1.4e6 * taps**0.5 / float(rng.uniform(3000, 30000))
    kind = rng.choice(["int64", "none"] if dw else ["int64", "int32", "none"])
    bias = None if kind == "none" else rng.integers(-(2**22), 2**22, oc).astype(str(kind))
    zp = int(rng.integers(-300, 300)) if options["activation"] != "NONE" else 0
    return conv_model(dw, x_shape, filt, bias, (si, sw, so), options, zp), x_shape


@needs_tflm
@pytest.mark.parametrize("dw", [False, True], ids=["conv", "dwconv"])
@pytest.mark.parametrize("seed", range(10))
def test_random_shapes_and_options(kernels: tuple[Any, Any], dw: bool, seed: int) -> None:
    model, x_shape = _random_case(seed, dw)
    check(kernels, model, x_shape, "dwconv2d_16x8" if dw else "conv2d_16x8", seed)


def _filter(dw: bool, seed: int = 3) -> np.ndarray:
    shape = (1, 3, 3, 4) if dw else (4, 3, 3, 4)
    f = np.random.default_rng(seed).integers(-127, 128, shape).astype(np.int8)
    f.reshape(-1)[:2] = (127, -127)
    return f


EXTREMES = [  # (name, output scale over input * filter scale, bias values)
    ("flushed_to_zero", 2.0**34, None),  # the multiplier is below 2^-32: 0, every output 0
    ("largest_shift", 2.0**-13.5, None),  # shift 14: the largest TFLM's 64-bit requantization defines
    ("int64_bias_near_max", 2.0**10, [2**62, -(2**62), 2**63 - 1, -(2**63)]),  # x * multiplier wraps int64
    ("int64_bias_near_2_47", 1.0, [2**47 - 1, -(2**47), 2**46, 0]),
]


@needs_tflm
@pytest.mark.parametrize("dw", [False, True], ids=["conv", "dwconv"])
@pytest.mark.parametrize(("name", "ratio", "bias"), EXTREMES, ids=[e[0] for e in EXTREMES])
def test_extreme_multipliers_and_biases(
    kernels: tuple[Any, Any], dw: bool, name: str, ratio: float, bias: list[int] | None
) -> None:
    si, sw = 0.0005, 0.004
    b = None if bias is None else np.array(bias, np.int64)
    options = {"padding": "SAME", "depth_multiplier": 1} if dw else {"padding": "SAME"}
    model = conv_model(dw, (1, 5, 5, 4), _filter(dw), b, (si, [sw], si * sw * ratio), options)
    check(kernels, model, (1, 5, 5, 4), "dwconv2d_16x8" if dw else "conv2d_16x8")


@needs_tflm
def test_int32_accumulator_wraps(kernels: tuple[Any, Any]) -> None:
    """An int32 bias near its range: TFLM's int32 accumulator wraps (the int64 one would not)."""
    bias = np.array([2**31 - 1, -(2**31), 2**31 - 2**20, -(2**31) + 5], np.int32)
    model = conv_model(False, (1, 5, 5, 4), _filter(False), bias, (0.0005, [0.004], 0.0005 * 0.004 * 300), {})
    check(kernels, model, (1, 5, 5, 4), "conv2d_16x8")


@needs_tflm
@pytest.mark.parametrize("dw", [False, True], ids=["conv", "dwconv"])
def test_zero_points_only_move_the_activation_range(kernels: tuple[Any, Any], dw: bool) -> None:
    """TFLM's int16 convolutions check no zero point and apply none: the output's moves the RELU clamp only."""
    options = {"padding": "SAME", "activation": "RELU", **({"depth_multiplier": 1} if dw else {})}
    scales = (0.0005, [0.004], 0.0005 * 0.004 * 40)
    model = conv_model(dw, (1, 5, 5, 4), _filter(dw), None, scales, options, out_zp=-700, in_zp=900)
    check(kernels, model, (1, 5, 5, 4), "dwconv2d_16x8" if dw else "conv2d_16x8")


REFUSED = [
    ("int32 bias on DEPTHWISE_CONV_2D", dict(dw=True, bias=np.zeros(4, np.int32)), "constant int64 tensor"),
    ("shift 15 (undefined in TFLM)", dict(ratio=2.0**-14.5), r"below 2\^14"),
    ("int32 shift 31", dict(ratio=2.0**-30.5, bias=np.zeros(4, np.int32)), r"below 2\^30"),
    ("TANH fused", dict(options={"activation": "TANH"}), "fused_activation_function TANH"),
    ("depth multiplier disagrees", dict(dw=True, options={"depth_multiplier": 2}), "depth_multiplier 2"),
]


@pytest.mark.parametrize(("what", "change", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused(what: str, change: dict[str, Any], message: str) -> None:
    dw = bool(change.get("dw", False))
    options = {"depth_multiplier": 1, **change.get("options", {})} if dw else change.get("options", {})
    si, sw = 0.0005, 0.004
    scales = (si, [sw], si * sw * float(change.get("ratio", 1.0)))
    model = conv_model(dw, (1, 5, 5, 4), _filter(dw), change.get("bias"), scales, options)
    with pytest.raises(BadInput, match=message):
        lower_model(parse_tflite(model))


def test_refused_filter_zero_point_and_channel_dimension() -> None:
    tensors = [
        T("x", (1, 4, 4, 2), "int16", [0.001], [0]),
        T("f", (3, 1, 1, 2), "int8", [0.01], [1], data=np.ones((3, 1, 1, 2), np.int8)),
        T("y", (1, 4, 4, 3), "int16", [0.01], [0]),
    ]
    with pytest.raises(BadInput, match="non-zero zero point"):
        lower_model(parse_tflite(build_model(tensors, [Op("CONV_2D", [0, 1], [2])], [0], [2])))
    tensors[1] = T("f", (3, 1, 1, 2), "int8", [0.01, 0.02], [0, 0], qdim=3, data=np.ones((3, 1, 1, 2), np.int8))
    with pytest.raises(BadInput, match="dimension 0"):
        lower_model(parse_tflite(build_model(tensors, [Op("CONV_2D", [0, 1], [2])], [0], [2])))
