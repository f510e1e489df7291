"""The compiler's refusals: each broken or unsupported model gets its own one-line BadInput naming the operator index,
the operator and the tensor; never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
from tinyml_cosim.nn.tflm_ops import TFLM_BUILTINS

REPO = Path(__file__).resolve().parents[1]
MLPERF = REPO.parent / "shared" / "models" / "mlperf-tiny"


def _fc_model(dtype: str = "int8", op: str = "FULLY_CONNECTED") -> bytes:
    q: dict[str, Any] = {"scales": [0.1], "zero_points": [0]} if dtype == "int8" else {}
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


def _binary_model(op: str) -> bytes:
    tensors = [
        T("a", (1, 4), "int8", [0.1], [0]),
        T("b", (1, 4), "int8", [0.1], [0]),
        T("y", (1, 4), "int8", [0.1], [0]),
    ]
    return build_model(tensors, [Op(op, [0, 1], [2])], [0, 1], [2])


def _refusal(tmp_path: Path, data: bytes) -> str:
    """compile_model's one-line refusal for a model file (the path shown exactly as given)."""
    path = _write(tmp_path, data)
    with pytest.raises(BadInput) as e:
        compile_model(path, load_board("stm32f405"), tmp_path / "out", compare_tflm=False)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{path}: ")
    assert "cosim_" not in msg  # no C function names
    return msg


def test_unsupported_op_says_tflm_supports_it(tmp_path: Path) -> None:
    msg = _refusal(tmp_path, _binary_model("BATCH_MATMUL"))
    assert "operator 0 (BATCH_MATMUL)" in msg and "not supported by the compiler" in msg
    assert "TFLM supports it" in msg


def test_unsupported_op_tflm_lacks_too(tmp_path: Path) -> None:
    msg = _refusal(tmp_path, _binary_model("POW"))
    assert "operator 0 (POW)" in msg and "TFLM does not support it either" in msg


def test_unknown_custom_op(tmp_path: Path) -> None:
    msg = _refusal(tmp_path, _binary_model("CUSTOM:MyFancyOp"))
    assert "custom operator 'MyFancyOp' is not supported" in msg and "not part of TFLM either" in msg


def test_tflm_custom_op(tmp_path: Path) -> None:
    msg = _refusal(tmp_path, _binary_model("CUSTOM:TFLite_Detection_PostProcess"))
    assert "custom operator 'TFLite_Detection_PostProcess' is not supported" in msg and "TFLM" in msg
    assert "ships a kernel for it" in msg


@pytest.mark.parametrize(
    ("code", "compiler"), [("ethos-u", "Vela (Arm Ethos-U NPU)"), ("edgetpu-custom-op", "Edge TPU compiler")]
)
def test_accelerator_compiled_model(tmp_path: Path, code: str, compiler: str) -> None:
    """The accelerator's custom operator is refused before anything else (here a float tensor and another op)."""
    tensors = [
        T("x", (1, 4), "int8", [0.1], [0]),
        T("cmd", (64,), "uint8", data=np.zeros(64, np.uint8)),
        T("y", (1, 4), "int8", [0.1], [0]),
        T("z", (1, 4), "float32"),
    ]
    ops = [Op(f"CUSTOM:{code}", [0, 1], [2]), Op("DEQUANTIZE", [2], [3]), Op("SQUARED_DIFFERENCE", [3, 3], [3])]
    msg = _refusal(tmp_path, build_model(tensors, ops, [0], [3]))
    assert compiler in msg and f"custom operator '{code}'" in msg
    assert "use the .tflite from before that compiler step" in msg and "operator 0" in msg


def test_sparse_tensor(tmp_path: Path) -> None:
    """A compressed tensor is shorter than its shape: 'sparse', not 'corrupt'."""
    tensors = [
        T("x", (1, 4), "int8", [0.1], [0]),
        T("w", (3, 4), "int8", [0.1], [0], data=np.ones(5, np.int8), sparse=True),
        T("y", (1, 3), "int8", [0.1], [0]),
    ]
    msg = _refusal(tmp_path, build_model(tensors, [Op("FULLY_CONNECTED", [0, 1, -1], [2])], [0], [2]))
    assert "sparse model" in msg and "'w'" in msg and "corrupt" not in msg


def test_densify(tmp_path: Path) -> None:
    tensors = [
        T("x", (1, 4), "int8", [0.1], [0]),
        T("ws", (3, 4), "int8", [0.1], [0], data=np.ones(5, np.int8), sparse=True),
        T("w", (3, 4), "int8", [0.1], [0]),
        T("y", (1, 3), "int8", [0.1], [0]),
    ]
    ops = [Op("DENSIFY", [1], [2]), Op("FULLY_CONNECTED", [0, 2, -1], [3])]
    msg = _refusal(tmp_path, build_model(tensors, ops, [0], [3]))
    assert "sparse model: DENSIFY" in msg and "operator 0 (DENSIFY)" in msg


def test_hybrid_model(tmp_path: Path) -> None:
    """Float activations with int8 weights: named as hybrid, not as a generic float model."""
    tensors = [
        T("x", (1, 4), "float32"),
        T("w", (3, 4), "int8", [0.1], [0], data=np.ones((3, 4), np.int8)),
        T("y", (1, 3), "float32"),
    ]
    msg = _refusal(tmp_path, build_model(tensors, [Op("FULLY_CONNECTED", [0, 1, -1], [2])], [0], [2]))
    assert "hybrid (dynamic-range) quantized model" in msg and "'w'" in msg and "operator 0" in msg


def test_float_check_before_operator_check(tmp_path: Path) -> None:
    """A float model whose first operator has no kernel: the refusal says float, at the later operator."""
    tensors = [T("a", (1, 4), "float32"), T("b", (1, 4), "float32"), T("y", (1, 4), "float32")]
    ops = [Op("SQUARED_DIFFERENCE", [0, 1], [1]), Op("ADD", [0, 1], [2])]
    msg = _refusal(tmp_path, build_model(tensors, ops, [0], [2]))
    assert "float model" in msg and "operator 0 (SQUARED_DIFFERENCE)" in msg and "not supported" not in msg


def test_constant_operand_refused(tmp_path: Path) -> None:
    """CONCATENATION of a constant: refused by name (it used to be planned as an arena tensor nobody writes). ADD,
    MUL and the registry's element-wise operators take constants: tests/test_models_eltwise_const.py."""
    tensors = [
        T("a", (1, 4), "int8", [0.1], [0]),
        T("b", (1, 4), "int8", [0.1], [0], data=np.ones((1, 4), np.int8)),
        T("y", (1, 8), "int8", [0.1], [0]),
    ]
    msg = _refusal(tmp_path, build_model(tensors, [Op("CONCATENATION", [0, 1], [2], {"axis": 1})], [0], [2]))
    assert "operator 0 (CONCATENATION)" in msg and "input 1 tensor 1 'b'" in msg and "is a constant" in msg


def test_git_lfs_pointer(tmp_path: Path) -> None:
    pointer = (
        b"version https://git-lfs.github.com/spec/v1\n"
        b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 53936\n"
    )
    msg = _refusal(tmp_path, pointer)
    assert "Git LFS pointer file" in msg and "git lfs pull" in msg


@pytest.mark.parametrize(
    ("head", "what"), [(b"\x89HDF\r\n\x1a\n" + b"\0" * 64, "Keras HDF5"), (b"PK\x03\x04" + b"\0" * 64, "zip")]
)
def test_other_model_formats(tmp_path: Path, head: bytes, what: str) -> None:
    msg = _refusal(tmp_path, head)
    assert "not a .tflite model" in msg and what in msg


def test_truncated_model_says_so(tmp_path: Path) -> None:
    data = _fc_model()
    msg = _refusal(tmp_path, data[: len(data) // 2])
    assert "truncated" in msg


def test_tflm_builtins_match_installed_runtime() -> None:
    """The checked-in table of TFLM builtins against the registration functions in the installed runtime."""
    import re

    if not tflm_available():
        pytest.skip("tflite-micro not installed")
    import tflite_micro.python.tflite_micro.runtime as rt

    so = next(Path(rt.__file__).parent.glob("_runtime*.so"))
    registered = {m.decode() for m in re.findall(rb"Register_([A-Z0-9_]+)Ev", so.read_bytes())}
    from tflite.BuiltinOperator import BuiltinOperator

    builtin_names = {k for k in vars(BuiltinOperator) if not k.startswith("_")}
    assert builtin_names >= TFLM_BUILTINS
    assert TFLM_BUILTINS - registered == set()
    # every builtin the runtime registers is in the table (its other Register_ symbols are custom/signal ops)
    assert (registered & builtin_names) - TFLM_BUILTINS == set()


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
    with pytest.raises(BadInput, match=r"absent\.tflite"):  # the wording is core.inputs': the path is what counts
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
    with pytest.raises(BadInput, match=r"needs \d+ bytes of RAM \(arena 49152, .*the board has 4096"):
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
