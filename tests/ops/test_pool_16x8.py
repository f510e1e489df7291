"""AVERAGE_POOL_2D and MAX_POOL_2D int16 through the compiler (numpy golden and host-built C) vs tflite-micro:
seeded random shapes, windows, strides, SAME / VALID, every fused activation with zero points, the int16 rails
(sums of 32767s rounding half away from zero); and what TFLM refuses."""

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
KINDS = {"AVERAGE_POOL_2D": "avgpool_16x8", "MAX_POOL_2D": "maxpool_16x8"}


def pool_model(
    name: str, x_shape: tuple[int, int, int, int], q_in: tuple[float, int], q_out: tuple[float, int], **options: Any
) -> bytes:
    b, h, w, c = x_shape
    kh, kw, sh, sw = (options.get(k, 1) for k in ("filter_h", "filter_w", "stride_h", "stride_w"))
    same = options.get("padding", "VALID") == "SAME"
    oh = (h + sh - 1) // sh if same else (h - kh + sh) // sh
    ow = (w + sw - 1) // sw if same else (w - kw + sw) // sw
    tensors = [T("x", x_shape, "int16", [q_in[0]], [q_in[1]]), T("y", (b, oh, ow, c), "int16", [q_out[0]], [q_out[1]])]
    return build_model(tensors, [Op(name, [0], [1], options)], [0], [1])


def _random_case(seed: int) -> tuple[bytes, tuple[int, int, int, int], str]:
    rng = np.random.default_rng([seed, 16])
    name = ("AVERAGE_POOL_2D", "MAX_POOL_2D")[seed % 2]
    x_shape = (int(rng.integers(1, 3)), int(rng.integers(3, 9)), int(rng.integers(3, 9)), int(rng.integers(1, 5)))
    options = {
        "filter_h": int(rng.integers(1, 4)),
        "filter_w": int(rng.integers(1, 4)),
        "stride_h": int(rng.integers(1, 3)),
        "stride_w": int(rng.integers(1, 4)),
        "padding": str(rng.choice(["SAME", "VALID"])),
        "activation": str(rng.choice(ACTS)),
    }
    q = (float(rng.uniform(1e-5, 1e-3)), int(rng.integers(-200, 200)) if options["activation"] != "NONE" else 0)
    return pool_model(name, x_shape, q, q, **options), x_shape, name


@needs_tflm
@pytest.mark.parametrize("seed", range(12))
def test_random_shapes_and_options(kernels: tuple[Any, Any], seed: int) -> None:  # noqa: F811
    model, x_shape, name = _random_case(seed)
    check(kernels, model, x_shape, KINDS[name], seed)


@needs_tflm
@pytest.mark.parametrize("name", KINDS)
def test_the_whole_image_in_one_window(kernels: tuple[Any, Any], name: str) -> None:  # noqa: F811
    """A 5x5 window over a 4x5 image with SAME padding: every count from 6 to 20, sums of the rails."""
    model = pool_model(name, (1, 4, 5, 3), (0.001, 0), (0.001, 0), filter_h=5, filter_w=5, padding="SAME")
    check(kernels, model, (1, 4, 5, 3), KINDS[name])


REFUSED = [
    ("scales differ", dict(q_out=(0.0011, 0)), "needs them equal"),
    ("zero points differ", dict(q_out=(0.001, 3)), "needs them equal"),
    ("TANH fused", dict(activation="TANH"), "fused_activation_function TANH"),
]


@pytest.mark.parametrize(("what", "change", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused(what: str, change: dict[str, Any], message: str) -> None:
    options = {"filter_h": 2, "filter_w": 2, "activation": change.get("activation", "NONE")}
    model = pool_model("AVERAGE_POOL_2D", (1, 4, 4, 2), (0.001, 0), change.get("q_out", (0.001, 0)), **options)
    with pytest.raises(BadInput, match=message):
        lower_model(parse_tflite(model))
