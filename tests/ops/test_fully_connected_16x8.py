"""FULLY_CONNECTED 16x8 through the compiler (numpy golden and host-built C) vs tflite-micro: seeded random rows,
depths, per-channel or per-tensor weights, int64 / int32 / no bias, every fused activation, input and output zero
points (TFLM applies them for FULLY_CONNECTED), keep_num_dims; rails, extreme multipliers, int64 biases near their
range, a wrapping int32 accumulator; and what is refused."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from test_conv_16x8 import ACTS, check, kernels  # noqa: F401  (the module's kernel library fixture)
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")


def fc_model(
    x_shape: tuple[int, ...],
    weights: np.ndarray,
    bias: np.ndarray | None,
    scales: tuple[float, list[float], float],
    zps: tuple[int, int] = (0, 0),
    y_shape: tuple[int, ...] | None = None,
    **options: Any,
) -> bytes:
    (si, sw, so), n = scales, weights.shape[0]
    tensors = [
        T("x", x_shape, "int16", [si], [zps[0]]),
        T("w", weights.shape, "int8", sw, [0] * len(sw), data=weights),
    ]
    if bias is not None:
        tensors.append(T("b", (n,), str(bias.dtype), [si * s for s in sw], [0] * len(sw), data=bias))
    rows = int(np.prod(x_shape)) // weights.shape[1]
    tensors.append(T("y", y_shape or (rows, n), "int16", [so], [zps[1]]))
    ins = list(range(len(tensors) - 1))
    return build_model(tensors, [Op("FULLY_CONNECTED", ins, [len(tensors) - 1], options)], [0], [len(tensors) - 1])


def _random_case(seed: int) -> tuple[bytes, tuple[int, ...]]:
    rng = np.random.default_rng([seed, 8])
    k, n = int(rng.integers(1, 40)), int(rng.integers(1, 12))
    lead = tuple(int(v) for v in rng.integers(1, 4, int(rng.integers(0, 3))))
    x_shape = (*lead, k) if lead else (1, k)
    keep = bool(lead) and rng.random() < 0.5
    y_shape = (*lead, n) if keep else None
    weights = rng.integers(-127, 128, (n, k)).astype(np.int8)
    si = float(rng.uniform(1e-4, 1e-3))
    sw = list(rng.uniform(0.002, 0.02, n)) if rng.random() < 0.5 else [0.01]
    so = si * 0.01 * 1.4e6 * k**0.5 / float(rng.uniform(3000, 30000))
    kind = rng.choice(["int64", "int32", "none"])
    bias = None if kind == "none" else rng.integers(-(2**22), 2**22, n).astype(str(kind))
    zps = (int(rng.integers(-500, 500)), int(rng.integers(-500, 500))) if rng.random() < 0.5 else (0, 0)
    act = str(rng.choice(ACTS))
    return fc_model(x_shape, weights, bias, (si, sw, so), zps, y_shape, activation=act, keep_num_dims=keep), x_shape


@needs_tflm
@pytest.mark.parametrize("seed", range(12))
def test_random_shapes_and_options(kernels: tuple[Any, Any], seed: int) -> None:  # noqa: F811
    model, x_shape = _random_case(seed)
    check(kernels, model, x_shape, "fc_16x8", seed)


def _weights(n: int = 6, k: int = 20) -> np.ndarray:
    w = np.random.default_rng(5).integers(-127, 128, (n, k)).astype(np.int8)
    w[0, :] = 127
    return w


EXTREMES = [  # (name, output scale over input * weight scale, bias, weight scales per channel)
    ("flushed_to_zero", 2.0**34, None, False),
    ("largest_shift", 2.0**-13.5, None, True),
    ("int64_bias_near_max", 2.0**10, [2**63 - 1, -(2**63), 2**62, -(2**62), 1, -1], False),
    ("int32_bias_wraps", 300.0, [2**31 - 1, -(2**31), 2**31 - 2**20, -(2**31) + 5, 0, 7], True),
]


@needs_tflm
@pytest.mark.parametrize(("name", "ratio", "bias", "per_channel"), EXTREMES, ids=[e[0] for e in EXTREMES])
def test_extreme_multipliers_and_biases(
    kernels: tuple[Any, Any],  # noqa: F811
    name: str,
    ratio: float,
    bias: list[int] | None,
    per_channel: bool,
) -> None:
    si, sw = 0.0005, 0.004
    sws = [sw * (1 - c / 16) for c in range(6)] if per_channel else [sw]
    b = None if bias is None else np.array(bias, np.int32 if "int32" in name else np.int64)
    model = fc_model((2, 20), _weights(), b, (si, sws, si * sw * ratio), (3, -4))
    check(kernels, model, (2, 20), "fc_16x8")


REFUSED = [
    ("shift 15", dict(ratio=2.0**-14.5), r"below 2\^14"),
    ("weights zero point", dict(wzp=2), "non-zero zero point"),
    ("rows disagree", dict(y_shape=(3, 6)), "rows need"),
    ("TANH fused", dict(activation="TANH"), "fused_activation_function TANH"),
]


@pytest.mark.parametrize(("what", "change", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused(what: str, change: dict[str, Any], message: str) -> None:
    si, sw = 0.0005, 0.004
    model = fc_model(
        (2, 20),
        _weights(),
        None,
        (si, [sw], si * sw * float(change.get("ratio", 1.0))),
        y_shape=change.get("y_shape"),
        activation=change.get("activation", "NONE"),
    )
    if "wzp" in change:
        tensors = [
            T("x", (2, 20), "int16", [si], [0]),
            T("w", (6, 20), "int8", [sw], [change["wzp"]], data=_weights()),
            T("y", (2, 6), "int16", [si], [0]),
        ]
        model = build_model(tensors, [Op("FULLY_CONNECTED", [0, 1], [2])], [0], [2])
    with pytest.raises(BadInput, match=message):
        lower_model(parse_tflite(model))
