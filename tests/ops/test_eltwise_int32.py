"""ADD, SUB, MUL, DIV, MAXIMUM and MINIMUM of int32 tensors: numpy golden and host C vs tflite-micro, byte for byte:
whole-range values (the sums and products wrap modulo 2^32), 4-D broadcasting either way, a constant operand on
either side, fused activations (ignored by TFLM's int32 ADD, applied by SUB / MUL / DIV), DIV truncating negative
quotients toward zero; micro_speech's feature scaling chain; refusals."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostops import load_op
from signal_models import check
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
OPS = ["ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM"]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load_op("eltwise_int32", Path(tmp_path_factory.mktemp("op_eltwise_int32")))


def _options(op: str, act: str) -> dict[str, Any]:
    if op in ("MAXIMUM", "MINIMUM"):
        return {}
    codes = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}
    return {"fused_activation_function": codes[act]} if op == "DIV" else {"activation": act}


def _model(op: str, a: tuple[int, ...], b: tuple[int, ...], out: tuple[int, ...], const: np.ndarray | None = None,
           const_first: bool = False, act: str = "NONE") -> bytes:  # fmt: skip
    ta, tb = T("a", a, "int32"), T("b", b, "int32", data=const)
    if const_first:
        ta, tb = T("a", a, "int32", data=const), T("b", b, "int32")
    tensors = [ta, tb, T("y", out, "int32")]
    inputs = [i for i, t in enumerate(tensors[:2]) if t.data is None]
    return build_model(tensors, [Op(op, [0, 1], [2], _options(op, act))], inputs, [2])


def _values(rng: np.random.Generator, shape: tuple[int, ...], small: bool = False) -> np.ndarray:
    lo, hi = (-1000, 1001) if small else (-(2**31), 2**31)
    return rng.integers(lo, hi, shape).astype(np.int32)


@needs_tflm
@pytest.mark.parametrize(
    "op,act", [(o, a) for o in ("ADD", "SUB", "MUL") for a in ("NONE", "RELU", "RELU6")] + [("MAXIMUM", "NONE"),
    ("MINIMUM", "NONE")],
)  # fmt: skip
def test_whole_range_with_a_broadcast_constant(kernel: tuple[Any, Any], op: str, act: str) -> None:
    rng = np.random.default_rng([24, OPS.index(op), len(act)])
    for a, b, out in [((2, 3, 4), (4,), (2, 3, 4)), ((1, 2, 1, 3), (2, 1, 5, 1), (2, 2, 5, 3))]:
        for first in (False, True):
            const = _values(rng, a if first else b)
            x = _values(rng, b if first else a)
            x.reshape(-1)[:2] = [2**31 - 1, -(2**31)]  # wraps of sums and products
            check(kernel, _model(op, a, b, out, const, first, act), x, [f"{op.lower()}_s32"])


@needs_tflm
@pytest.mark.parametrize("act", ["NONE", "RELU", "RELU_N1_TO_1"])
def test_div_truncates_toward_zero(kernel: tuple[Any, Any], act: str) -> None:
    rng = np.random.default_rng(25)
    divisor = np.array([3, -3, 7, -1, 1, 2**31 - 1, -(2**31), 256], np.int32)
    x = _values(rng, (5, 8))
    x[0] = [-7, 7, -6, 5, -(2**31), 2**31 - 1, -(2**31), -1]
    x[1] = [1, -1, 6, -(2**31 - 1), 0, -(2**31), 2**31 - 1, -257]
    check(kernel, _model("DIV", (5, 8), (8,), (5, 8), divisor, act=act), x, ["div_s32"])


@needs_tflm
def test_arena_operands_on_both_sides(kernel: tuple[Any, Any]) -> None:
    # a model input squared (MUL of one tensor by itself), then added to itself
    tensors = [T("x", (3, 7), "int32"), T("sq", (3, 7), "int32"), T("y", (3, 7), "int32")]
    ops = [Op("MUL", [0, 0], [1], {"activation": "NONE"}), Op("ADD", [1, 0], [2], {"activation": "NONE"})]
    x = _values(np.random.default_rng(26), (3, 7))
    check(kernel, build_model(tensors, ops, [0], [2]), x, ["mul_s32", "add_s32"])


@needs_tflm
def test_micro_speech_scaling_chain(kernel: tuple[Any, Any]) -> None:
    scalar = {v: np.array(v, np.int32) for v in (666, 5, 128, 127, -128)}
    tensors = [
        T("x", (40,), "int32"), *(T(f"c{v}", (), "int32", data=a) for v, a in scalar.items()),  # 0, 1..5
        *(T(f"t{k}", (40,), "int32") for k in range(6)),  # 6..11
    ]  # fmt: skip
    ops = [
        Op("MUL", [0, 1], [6], {"activation": "NONE"}),
        Op("ADD", [6, 4], [7], {"activation": "NONE"}),
        Op("DIV", [7, 3], [8], {"fused_activation_function": 0}),
        Op("ADD", [8, 5], [9], {"activation": "NONE"}),
        Op("MINIMUM", [9, 4], [10]),
        Op("MAXIMUM", [10, 5], [11]),
    ]
    x = np.random.default_rng(27).integers(0, 1500, 40).astype(np.int32)
    kinds = ["mul_s32", "add_s32", "div_s32", "add_s32", "minimum_s32", "maximum_s32"]
    _, want = check(kernel, build_model(tensors, ops, [0], [11]), x, kinds)
    assert want.min() >= -128 and want.max() <= 127


def test_refusals() -> None:
    with pytest.raises(BadInput, match=r"\(DIV\): the int32 divisor must be a constant without zeros"):
        lower_model(parse_tflite(_model("DIV", (4,), (4,), (4,), np.array([1, 0, 2, 3], np.int32))))
    runtime = build_model([T("a", (4,), "int32"), T("b", (4,), "int32"), T("y", (4,), "int32")],
                          [Op("DIV", [0, 1], [2], {"fused_activation_function": 0})], [0, 1], [2])  # fmt: skip
    with pytest.raises(BadInput, match=r"the int32 divisor must be a constant"):
        lower_model(parse_tflite(runtime))
    with pytest.raises(BadInput, match=r"\(ADD\): output shape \[4\] is not the broadcast"):
        lower_model(parse_tflite(_model("ADD", (3,), (3,), (4,), np.ones(3, np.int32))))
    with pytest.raises(BadInput, match=r"fused activation TANH: TFLM's int32 MUL takes NONE"):
        lower_model(parse_tflite(_model("MUL", (3,), (3,), (3,), np.ones(3, np.int32), act="TANH")))
