"""The compiler's refusals: each broken or unsupported model gets its own one-line BadInput naming the operator index,
the operator and the tensor; never a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.boards import Memory, Region, load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.compiler import compile_model
from tinyml_cosim.nn.golden import run_tflm, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph
from tinyml_cosim.nn.tflite_reader import parse_tflite, read_tflite

REPO = Path(__file__).resolve().parents[1]
MLPERF = REPO.parent / "shared" / "models" / "mlperf-tiny"


def _fc_model(dtype: str = "int8", op: str = "FULLY_CONNECTED") -> bytes:
    q = {"scales": [0.1], "zero_points": [0]} if dtype == "int8" else {}
    w = np.ones((3, 4), np.int8 if dtype == "int8" else np.float32)
    tensors = [
        T("x", (1, 4), dtype, **q),
        T("w", (3, 4), dtype, data=w, **q),
        T("y", (1, 3), dtype, **q),
    ]
    return build_model(tensors, [Op(op, [0, 1, -1], [2])], [0], [2])


def _write(tmp_path: Path, data: bytes, name: str = "m.tflite") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_float_model(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as e:
        compile_model(_write(tmp_path, _fc_model("float32")), load_board("stm32f405"), tmp_path / "out")
    msg = str(e.value)
    assert "float model" in msg and "operator 0 (FULLY_CONNECTED)" in msg and "'x'" in msg


def test_unsupported_op(tmp_path: Path) -> None:
    tensors = [
        T("a", (1, 4), "int8", [0.1], [0]),
        T("b", (1, 4), "int8", [0.1], [0]),
        T("y", (1, 4), "int8", [0.1], [0]),
    ]
    model = build_model(tensors, [Op("SQUARED_DIFFERENCE", [0, 1], [2])], [0, 1], [2])
    with pytest.raises(BadInput) as e:
        compile_model(_write(tmp_path, model), load_board("stm32f405"), tmp_path / "out")
    assert "operator 0 (SQUARED_DIFFERENCE)" in str(e.value) and "not supported" in str(e.value)


def test_truncated_file(tmp_path: Path) -> None:
    data = _fc_model()
    with pytest.raises(BadInput) as e:
        read_tflite(_write(tmp_path, data[: len(data) // 2]))
    assert "truncated" in str(e.value)


def test_not_a_tflite_file(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="too short"):
        read_tflite(_write(tmp_path, b"TFL"))
    with pytest.raises(BadInput, match="file identifier"):
        read_tflite(_write(tmp_path, b"\0" * 64))
    with pytest.raises(BadInput, match="cannot read"):
        read_tflite(tmp_path / "absent.tflite")


def test_corrupt_files_never_traceback() -> None:
    """Truncations and byte flips anywhere: the result is a graph or a BadInput, nothing else."""
    data = _fc_model()
    rng = np.random.default_rng(0)
    outcomes = {"ok": 0, "bad": 0}
    for i in range(300):
        b = bytearray(data)
        if i % 2:
            b = b[: int(rng.integers(8, len(b)))]
        else:
            for _ in range(int(rng.integers(1, 4))):
                pos = int(rng.integers(8, len(b)))
                b[pos] = int(rng.integers(0, 256))
        try:
            lower_model(parse_tflite(bytes(b)))
            outcomes["ok"] += 1
        except BadInput as e:
            assert "\n" not in str(e)
            outcomes["bad"] += 1
    assert outcomes["bad"] > 0


@pytest.mark.skipif(not (MLPERF / "kws_ref_model.tflite").exists(), reason="MLPerf Tiny models absent in ../shared")
def test_truncated_real_model(tmp_path: Path) -> None:
    data = (MLPERF / "kws_ref_model.tflite").read_bytes()
    for cut in (100, len(data) // 3, len(data) - 1000):
        with pytest.raises(BadInput):
            compile_model(_write(tmp_path, data[:cut]), load_board("stm32f405"), tmp_path / "out", compare_tflm=False)


@pytest.mark.skipif(not (MLPERF / "ad01_int8.tflite").exists(), reason="MLPerf Tiny models absent in ../shared")
def test_model_too_large_for_board(tmp_path: Path) -> None:
    board = load_board("stm32f205")
    small = board.model_copy(
        update={
            "memory": Memory(flash=Region(origin=0x08000000, size=0x10000), ram=Region(origin=0x20000000, size=0x20000))
        }
    )
    with pytest.raises(BadInput) as e:
        compile_model(MLPERF / "ad01_int8.tflite", small, tmp_path / "out", compare_tflm=False)
    assert "bytes of flash" in str(e.value) and "65536" in str(e.value)
    tiny_ram = board.model_copy(
        update={
            "memory": Memory(flash=Region(origin=0x08000000, size=0x100000), ram=Region(origin=0x20000000, size=0x1000))
        }
    )
    with pytest.raises(BadInput, match="tensor arena"):
        compile_model(MLPERF / "pretrainedResnet_quant.tflite", tiny_ram, tmp_path / "out", compare_tflm=False)


def _flatten_model() -> bytes:
    """x -> SHAPE -> STRIDED_SLICE -> PACK(-1) -> RESHAPE -> FULLY_CONNECTED: the chain Keras' Flatten exports."""
    s = [0.05]
    tensors = [
        T("x", (1, 2, 3, 4), "int8", s, [-5]),
        T("shape", (4,), "int32"),
        T("begin", (1,), "int32", data=np.array([0], np.int32)),
        T("end", (1,), "int32", data=np.array([1], np.int32)),
        T("strides", (1,), "int32", data=np.array([1], np.int32)),
        T("batch", (), "int32"),
        T("minus1", (), "int32", data=np.array(-1, np.int32)),
        T("packed", (2,), "int32"),
        T("flat", (1, 24), "int8", s, [-5]),
        T("w", (5, 24), "int8", [0.01], [0], 0, np.random.default_rng(1).integers(-127, 128, (5, 24)).astype(np.int8)),
        T("y", (1, 5), "int8", [0.07], [3]),
    ]
    ops = [
        Op("SHAPE", [0], [1]),
        Op("STRIDED_SLICE", [1, 2, 3, 4], [5], {"shrink_axis_mask": 1}),
        Op("PACK", [5, 6], [7], {"values_count": 2, "axis": 0}),
        Op("RESHAPE", [0, 7], [8]),
        Op("FULLY_CONNECTED", [8, 9, -1], [10]),
    ]
    return build_model(tensors, ops, [0], [10])


def test_flatten_chain_is_folded() -> None:
    model = _flatten_model()
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == ["fc"]
    x = np.random.default_rng(3).integers(-128, 128, (1, 2, 3, 4)).astype(np.int8)
    got = run_graph(graph, x)
    if tflm_available():
        np.testing.assert_array_equal(got, run_tflm(model, x)[0])


def test_fc_without_bias_uses_float32_scale_product() -> None:
    """Per-tensor FC: input scale x filter scale is rounded to float32 before the division (TFLM)."""
    from tinyml_cosim.nn import quant

    model = _fc_model()
    graph = lower_model(parse_tflite(model))
    layer = graph.layers[0]
    want = quant.quantize_multiplier(quant.f32(quant.f32(0.1) * quant.f32(0.1)) / quant.f32(0.1))
    assert (int(layer.consts["multiplier"][0]), int(layer.consts["shift"][0])) == want
