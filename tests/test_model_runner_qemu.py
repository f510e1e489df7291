"""Compiled models inside QEMU: the model_runner firmware (one cached build per board/model/kernels, every input of a
model in one emulator run) bit-exact with TFLM on the MLPerf Tiny models, exact instruction counts, intermediates,
refusals, and the `cosim model check|diff` / `cosim compile` JSON contract."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.orchestrate.model_check import (
    RunnerBuild,
    build_runner,
    check_model,
    first_layer_difference,
    run_runner,
)
from tinyml_cosim.orchestrate.model_inputs import seeded_input

REPO = Path(__file__).resolve().parents[1]
MLPERF = REPO.parent / "shared" / "models" / "mlperf-tiny"
GOLDEN = REPO / "src" / "tinyml_cosim" / "golden"
MODELS = ("kws_ref_model", "ad01_int8", "pretrainedResnet_quant")
F405 = load_board("stm32f405")
F205 = load_board("stm32f205")

HAVE_QEMU = shutil.which("qemu-system-arm") is not None
HAVE_ARM_GCC = shutil.which("arm-none-eabi-gcc") is not None
pytestmark = pytest.mark.skipif(
    not (HAVE_QEMU and HAVE_ARM_GCC), reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)"
)

# Instructions of one KWS inference (input seed 0 alone in a run, ref kernels, stm32f405, arm-none-eabi-gcc
# 12.2.rel1, -O2) between the "inference" span's begin and end. QEMU -icount counts retired instructions, so runs
# repeat to the instruction; this changes only with the kernels, the compiler, the generated model or the runtime.
# The span includes the runtime's service interrupts (watchdog/budget alarm every 2^24 instructions, kept enabled so
# a hanging kernel is still diagnosed): the same input later in a batch can differ by a handler's worth (~64).
KWS_SEED0_INSTRUCTIONS = 36_819_923


def _model(name: str) -> Path:
    path = MLPERF / f"{name}.tflite"
    if not path.exists():
        pytest.skip(f"{path} is absent (the MLPerf Tiny models live in ../shared relative to the repo)")
    return path


def _golden(name: str) -> tuple[np.ndarray, np.ndarray]:
    f = GOLDEN / f"mlperf_{name}.npz"
    if not f.exists():
        pytest.skip(f"{f} is missing")
    with np.load(f) as z:
        return z["inputs"], z["outputs"]


@pytest.fixture(scope="module")
def runners() -> dict[tuple[str, str], RunnerBuild]:
    """Built on first use, one per (model, board): tests share builds instead of rebuilding per case."""
    return {}


def _runner(runners: dict[tuple[str, str], RunnerBuild], name: str, board: str = "stm32f405") -> RunnerBuild:
    key = (name, board)
    if key not in runners:
        runners[key] = build_runner(_model(name), load_board(board))
    return runners[key]


@pytest.mark.parametrize("name", MODELS)
def test_mlperf_bit_exact_in_qemu(runners: dict, name: str) -> None:
    rb = _runner(runners, name)
    xs, ys = _golden(name)
    assert len(xs) >= 20
    # the committed vectors are the seeded inputs 0..19 of `cosim model check`
    np.testing.assert_array_equal(xs[0], seeded_input(rb.model.input.shape, rb.model.input.dtype, 0))
    res = run_runner(rb, F405, list(xs))
    assert res.ok, res.record.diagnosis
    assert len(res.outputs) == len(xs) and len(res.instructions) == len(xs)
    for i, (got, want) in enumerate(zip(res.outputs, ys, strict=True)):
        assert got == want.tobytes(), f"{name} input {i}: firmware output differs from TFLM's"
    assert all(n > rb.model.total_macs for n in res.instructions)  # at least an instruction per MAC


def test_instruction_count_is_exact(runners: dict) -> None:
    rb = _runner(runners, "kws_ref_model")
    x = seeded_input(rb.model.input.shape, rb.model.input.dtype, 0)
    first = run_runner(rb, F405, [x])
    again = run_runner(rb, F405, [x])
    assert first.instructions == again.instructions == [KWS_SEED0_INSTRUCTIONS]
    assert first.record.instructions == again.record.instructions  # the whole run repeats too
    # in a batch only the interrupts' phase differs: no state is carried from one inference to the next
    batch = run_runner(rb, F405, [x, x, x])
    assert all(abs(n - KWS_SEED0_INSTRUCTIONS) <= 3 * 200 for n in batch.instructions), batch.instructions


def test_intermediates_match_the_numpy_golden(runners: dict) -> None:
    rb = _runner(runners, "pretrainedResnet_quant")  # convolutions, ADD, pooling, FC, softmax
    xs = [seeded_input(rb.model.input.shape, rb.model.input.dtype, s) for s in (100, 101)]
    res = run_runner(rb, F405, xs, intermediates=True)
    assert res.ok, res.record.diagnosis
    assert len(res.intermediates) == 2
    for x, layers in zip(xs, res.intermediates, strict=True):
        assert sorted(layers) == list(range(len(rb.model.layers)))
        assert first_layer_difference(rb.model, x, layers) is None


def test_cortex_m3_soft_float_board(runners: dict) -> None:
    rb = _runner(runners, "kws_ref_model", "stm32f205")
    xs, ys = _golden("kws_ref_model")
    res = run_runner(rb, F205, list(xs))
    assert res.ok, res.record.diagnosis
    assert [o for o in res.outputs] == [y.tobytes() for y in ys]
    assert res.record.board == "stm32f205" and len(res.instructions) == len(xs)


def _small_board(tmp_path: Path, flash: int) -> Path:
    text = (REPO / "src" / "tinyml_cosim" / "platforms" / "stm32f405.yaml").read_text()
    text = text.replace("id: stm32f405", "id: tiny_f405").replace("size: 0x100000}", f"size: {flash:#x}}}")
    path = tmp_path / "tiny_f405.yaml"
    path.write_text(text)
    return path


def test_model_too_large_for_the_board_is_refused(tmp_path: Path) -> None:
    board_file = _small_board(tmp_path, 256 * 1024)
    with pytest.raises(BadInput, match=r"needs 271680 bytes of flash .* board tiny_f405 has 262144 bytes of flash"):
        build_runner(_model("ad01_int8"), load_board(board_file))
    for cmd in (["compile"], ["model", "check"]):
        extra = ["--out", str(tmp_path / "out")] if cmd == ["compile"] else []
        r = _cosim(*cmd, str(_model("ad01_int8")), "--board", str(board_file), *extra)
        assert r.returncode == 2
        assert "needs 271680 bytes of flash" in r.stderr and "262144" in r.stderr


def test_mismatch_names_layer_and_element() -> None:
    # A runner built with the test hook flips element 5 of layer 3's output: check and diff must say so.
    fault = ["-DCOSIM_RUNNER_FAULT_LAYER=3", "-DCOSIM_RUNNER_FAULT_ELEMENT=5"]
    r = check_model(_model("ad01_int8"), F405, vectors=2, extra_cflags=fault)
    assert r["bit_exact"] is False and r["mismatched_vectors"]
    fm = r["first_mismatch"]
    assert isinstance(fm, dict)
    assert (fm["vector"], fm["layer"], fm["operator"], fm["element"]) == (0, 3, "FULLY_CONNECTED", 5)
    assert fm["expected"] != fm["actual"] and abs(int(fm["expected"]) - int(fm["actual"])) == 1


def _cosim(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-m", "tinyml_cosim.cli.app", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )


def test_cli_check_json_contract() -> None:
    r = _cosim("model", "check", str(_model("ad01_int8")), "--board", "stm32f405", "--vectors", "3", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    for key in (
        "bit_exact",
        "vectors",
        "mismatched_vectors",
        "first_mismatch",
        "arena_bytes",
        "tflm_arena_bytes",
        "flash_bytes_model",
        "instructions_per_inference",
        "kernels",
    ):
        assert key in rep, key
    assert rep["bit_exact"] is True and rep["vectors"] == 3 and rep["mismatched_vectors"] == []
    assert rep["first_mismatch"] is None and rep["kernels"] == "ref"
    assert rep["arena_bytes"] == 768 and rep["flash_bytes_model"] == 271680
    assert rep["tflm_arena_bytes"] in (768, None)  # None only without tflite-micro
    assert len(rep["instructions_per_inference"]) == 3 and all(n > 0 for n in rep["instructions_per_inference"])

    d = _cosim("model", "diff", str(_model("ad01_int8")), "--board", "stm32f405", "--seed", "4", "--json")
    assert d.returncode == 0, d.stderr
    assert json.loads(d.stdout)["first_difference"] is None


def test_cli_compile_summary(tmp_path: Path) -> None:
    r = _cosim("compile", str(_model("kws_ref_model")), "--board", "stm32f405", "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert (s["arena_bytes"], s["flash_bytes"], s["macs"]) == (16000, 30140, 2664780)
    assert (tmp_path / "model.c").is_file() and (tmp_path / "model.h").is_file()
    human = _cosim("compile", str(_model("kws_ref_model")), "--board", "stm32f405", "--out", str(tmp_path))
    assert human.returncode == 0 and "arena" in human.stdout and "MACs" in human.stdout
    bad = _cosim("compile", str(tmp_path / "model.c"), "--board", "stm32f405", "--out", str(tmp_path))
    assert bad.returncode == 2 and "error:" in bad.stderr


# --- CMSIS-NN (optional): CMSIS_NN_DIR points at a CMSIS-NN checkout; nothing of it is in this repository ---------

CMSIS_NN_DIR = os.environ.get("CMSIS_NN_DIR")
needs_cmsis = pytest.mark.skipif(
    not (CMSIS_NN_DIR and (Path(CMSIS_NN_DIR) / "Include" / "arm_nnfunctions.h").is_file()),
    reason="CMSIS_NN_DIR is not set to a CMSIS-NN checkout (tested at 99f736a63036613032f9b70de36b493bcd7802d4)",
)


@pytest.fixture(scope="module")
def cmsis_runners() -> dict[tuple[str, str], RunnerBuild]:
    return {}


def _cmsis_runner(cache: dict[tuple[str, str], RunnerBuild], name: str, board: str = "stm32f405") -> RunnerBuild:
    if (name, board) not in cache:
        cache[(name, board)] = build_runner(_model(name), load_board(board), "cmsis-nn")
    return cache[(name, board)]


@needs_cmsis
@pytest.mark.parametrize("name", MODELS)
def test_cmsis_nn_bit_exact_in_qemu(cmsis_runners: dict, name: str) -> None:
    rb = _cmsis_runner(cmsis_runners, name)
    xs, ys = _golden(name)
    res = run_runner(rb, F405, list(xs))
    assert res.ok, res.record.diagnosis
    assert res.outputs == [y.tobytes() for y in ys], f"{name}: CMSIS-NN firmware differs from TFLM"
    # every conv / depthwise / pool / add / softmax / FC call ran CMSIS-NN (none fell back to a ref kernel)
    assert res.marks.get("nn_fallbacks") == 0


@needs_cmsis
def test_cmsis_nn_on_cortex_m3(cmsis_runners: dict) -> None:
    # no DSP extension: CMSIS-NN's plain-C paths, which differ from the Cortex-M4 SMLAD ones
    rb = _cmsis_runner(cmsis_runners, "pretrainedResnet_quant", "stm32f205")
    xs, ys = _golden("pretrainedResnet_quant")
    res = run_runner(rb, F205, list(xs))
    assert res.ok, res.record.diagnosis
    assert res.outputs == [y.tobytes() for y in ys] and res.marks.get("nn_fallbacks") == 0


@needs_cmsis
def test_cmsis_nn_kws_at_most_0_4x_own_kernels(runners: dict, cmsis_runners: dict) -> None:
    x = seeded_input((1, 49, 10, 1), "int8", 0)
    own = run_runner(_runner(runners, "kws_ref_model"), F405, [x]).instructions[0]
    cmsis = run_runner(_cmsis_runner(cmsis_runners, "kws_ref_model"), F405, [x]).instructions[0]
    assert cmsis <= 0.4 * own, (cmsis, own)
