"""32-bit data movement: CAST to / from uint32, STRIDED_SLICE and CONCATENATION of int32 / uint32, and CAST int32 ->
unquantized int8: numpy golden and host C vs tflite-micro, byte for byte: whole-range values (uint32 above 2^31,
negative int32 reinterpreted, narrowing keeping the low bits, int8 / int16 sign-extended into uint32), strided and
reversed slices, concatenations of 1 to 6 inputs along any axis with constants among them (micro_speech's zero
padding of its energy spectrum); refusals."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import build_library, load
from signal_models import check
from tflite_custom_writer import custom_model
from tflite_writer import Op, T

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.golden import tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.ops.int32_data import MAX_INPUTS
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
SIGNED = {"int8": np.int8, "int16": np.int16, "int32": np.int32}


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load(build_library(Path(tmp_path_factory.mktemp("nn_int32_data")) / "libcosim_nn.so"))


def _whole(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    info = np.iinfo(dtype)
    return rng.integers(int(info.min), int(info.max) + 1, shape, dtype=np.int64).astype(dtype)


def _chain(dtype_in: str, dtype_mid: str, dtype_out: str, n: int) -> bytes:
    """x -> CAST -> CAST: through uint32 either way (the model's input and output of the plain types)."""

    def t(name: str, dtype: str) -> T:
        return T(name, (n,), dtype, [1.0], [0]) if dtype == "int8" else T(name, (n,), dtype)

    tensors = [t("x", dtype_in), t("m", dtype_mid), t("y", dtype_out)]
    return custom_model(tensors, [Op("CAST", [0], [1]), Op("CAST", [1], [2])], [0], [2])


@needs_tflm
@pytest.mark.parametrize("src", ["int8", "int16", "int32"])
@pytest.mark.parametrize("dst", ["int8", "int16", "int32"])
def test_casts_through_uint32(lib: tuple[Any, Any], src: str, dst: str) -> None:
    rng = np.random.default_rng([28, len(src), len(dst)])
    x = _whole(rng, (64,), src)
    x[:3] = [np.iinfo(src).min, -1, np.iinfo(src).max]
    check(lib, _chain(src, "uint32", dst, 64), x, ["cast_u32", "cast_u32"])


@needs_tflm
def test_cast_to_an_unquantized_int8(lib: tuple[Any, Any]) -> None:
    x = _whole(np.random.default_rng(29), (40,), "int32")
    model = custom_model([T("x", (40,), "int32"), T("y", (40,), "int8")], [Op("CAST", [0], [1])], [0], [1])
    assert not parse_tflite(model).tensors[1].scales  # no quantization: TFLM's CAST never reads one
    check(lib, model, x, ["cast"])


def _slice_model(dtype: str, shape: tuple[int, ...], begin: list[int], end: list[int], strides: list[int],
                 out: tuple[int, ...], masks: dict[str, int] | None = None) -> bytes:  # fmt: skip
    k = len(shape)
    tensors = [
        T("x", shape, "int32"), T("u", shape, dtype),
        *(T(n, (k,), "int32", data=np.array(v, np.int32)) for n, v in (("b", begin), ("e", end), ("s", strides))),
        T("y", out, dtype), T("z", out, "int32"),
    ]  # fmt: skip
    ops = [Op("CAST", [0], [1]) if dtype == "uint32" else Op("MAXIMUM", [0, 0], [1]),
           Op("STRIDED_SLICE", [1, 2, 3, 4], [5], {"begin_mask": 0, "end_mask": 0, "shrink_axis_mask": 0,
                                                   "ellipsis_mask": 0, "new_axis_mask": 0, **(masks or {})}),
           Op("CAST", [5], [6]) if dtype == "uint32" else Op("MINIMUM", [5, 5], [6])]  # fmt: skip
    return custom_model(tensors, ops, [0], [6])


SLICES = [
    ((257,), [5], [241], [1], (236,), {}),  # micro_speech's range
    ((4, 6), [1, 5], [4, 0], [2, -2], (2, 3), {}),  # strided rows, reversed columns
    ((2, 3, 4), [0, 1, 1], [2, 2, 4], [1, 1, 1], (2, 3), {"shrink_axis_mask": 2}),  # a shrunk axis
    ((2, 3, 4), [1, 0, 0], [2, 3, 3], [1, 1, 1], (2, 3, 3), {"begin_mask": 1}),  # a masked begin
]


@needs_tflm
@pytest.mark.parametrize("case", range(len(SLICES)))
def test_strided_slices(lib: tuple[Any, Any], case: int) -> None:
    shape, begin, end, strides, out, masks = SLICES[case]
    x = _whole(np.random.default_rng([30, case]), shape, "int32")
    model = _slice_model("int32", shape, begin, end, strides, out, masks)
    check(lib, model, x, ["maximum_s32", "strided_slice_s32", "minimum_s32"])


def _concat_model(shapes: list[tuple[int, ...]], axis: int, consts: set[int]) -> bytes:
    """CONCATENATION of the model input (tensor 0, at every position not in `consts`) and int32 constants."""
    rng = np.random.default_rng([31, len(shapes), axis])
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    arena = min(set(range(len(shapes))) - consts)
    tensors = [T("x", shapes[arena], "int32")]
    ins = []
    for k, s in enumerate(shapes):
        if k in consts:
            tensors.append(T(f"c{k}", s, "int32", data=_whole(rng, s, "int32")))
        ins.append(len(tensors) - 1 if k in consts else 0)
    tensors.append(T("y", tuple(out), "int32"))
    op = Op("CONCATENATION", ins, [len(tensors) - 1], {"axis": axis, "activation": "NONE"})
    return custom_model(tensors, [op], [0], [len(tensors) - 1])


@needs_tflm
@pytest.mark.parametrize("count", range(1, MAX_INPUTS + 1))
def test_concatenations(lib: tuple[Any, Any], count: int) -> None:
    rng = np.random.default_rng([32, count])
    for axis in (0, 2):
        shape = tuple(int(rng.integers(1, 4)) if d == axis else v for d, v in enumerate((2, 3, 4)))
        shapes = [tuple(int(rng.integers(1, 4)) if d == axis else v for d, v in enumerate(shape)) for _ in range(count)]
        consts = set(range(1, count, 2))  # every other input a constant; the model input at the others
        for k in set(range(count)) - consts:
            shapes[k] = shape
        check(lib, _concat_model(shapes, axis, consts), _whole(rng, shape, "int32"), [f"concat_s32_{count}"])


@needs_tflm
def test_micro_speech_zero_padding(lib: tuple[Any, Any]) -> None:
    x = _whole(np.random.default_rng(33), (236,), "int32")
    model = _concat_model([(5,), (236,), (16,)], 0, {0, 2})
    _, want = check(lib, model, x, ["concat_s32_3"])
    np.testing.assert_array_equal(want[5:241], x)


def test_refusals() -> None:
    seven = _concat_model([(1,)] * 7, 0, {1, 3, 5})
    with pytest.raises(BadInput, match=r"\(CONCATENATION\): 7 inputs: this compiler's 32-bit CONCATENATION takes"):
        lower_model(parse_tflite(seven))
    both = custom_model([T("x", (4,), "uint32"), T("y", (4,), "uint8", [1.0], [0])], [Op("CAST", [0], [1])], [0], [1])
    with pytest.raises(BadInput, match=r"output type uint8: CAST with uint32 is compiled from / to int8, int16"):
        lower_model(parse_tflite(both))
    with pytest.raises(BadInput, match=r"\(STRIDED_SLICE\): strides \[0\]: a stride of 0"):
        lower_model(parse_tflite(_slice_model("int32", (8,), [0], [4], [0], (4,))))
    unsigned = _slice_model("uint32", (8,), [0], [4], [1], (4,))  # TFLM's STRIDED_SLICE has no uint32 form
    with pytest.raises(BadInput, match=r"\(STRIDED_SLICE\): .*is uint32, expected int8"):
        lower_model(parse_tflite(unsigned))
