"""TFLM's whole arena on the 32-bit board, and the RAM budget `cosim compile` checks.

The measured figures are TFLM itself (tflite-micro 90b983c2b3f1, reference kernels, MicroAllocator with the greedy
planner) built with arm-none-eabi-g++ -mcpu=cortex-m4 and run in QEMU (mps2-an386): `arena_used_bytes()` after
AllocateTensors, and the smallest arena, a multiple of 16, with which AllocateTensors and Invoke succeed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from tflite_writer import Op, T, build_model

from tinyml_cosim.core.boards import Board, Memory, Region, board_path, load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.nn.compiler import compile_model
from tinyml_cosim.nn.tflite_reader import parse_tflite, read_tflite
from tinyml_cosim.nn.tflm_arena import tflm_arena_32bit

REPO = Path(__file__).resolve().parents[1]
MLPERF = REPO.parent / "shared" / "models" / "mlperf-tiny"
needs_mlperf = pytest.mark.skipif(not (MLPERF / "ad01_int8.tflite").exists(), reason="MLPerf Tiny models absent")

# model: (TFLM head, arena_used_bytes, smallest working arena (multiple of 16)) measured on Cortex-M4
MEASURED = {
    "kws_ref_model": (16000, 22772, 22784),
    "ad01_int8": (768, 2260, 2704),
    "pretrainedResnet_quant": (49152, 54340, 54352),
}


@needs_mlperf
@pytest.mark.parametrize("model", sorted(MEASURED))
def test_whole_arena_matches_tflm_on_cortex_m4(model: str) -> None:
    head, used, smallest = MEASURED[model]
    a = tflm_arena_32bit(read_tflite(MLPERF / f"{model}.tflite"), head)
    assert a.exact
    assert a.head + a.persistent == used  # TFLM's arena_used_bytes()
    assert a.total == smallest


@needs_mlperf
def test_whole_arena_is_reported_by_compile(tmp_path: Path) -> None:
    """compile_model reports the non-persistent and the whole 32-bit figure, labelled, also without tflite-micro."""
    cm = compile_model(MLPERF / "kws_ref_model.tflite", load_board("stm32f405"), tmp_path, compare_tflm=False)
    assert cm.tflm_arena32 is not None and cm.tflm_arena32.head == cm.tflm_greedy_arena_bytes == 16000
    assert cm.tflm_arena32.total == 22784 and cm.tflm_arena32.persistent == 6772


def test_unmeasured_operator_is_named_and_the_figure_not_exact() -> None:
    """An operator outside the measured set is sized as the largest measured one, and the figure names it."""
    tensors = [
        T("x", (1, 8), "int8", [0.1], [0]),
        T("y", (1, 8), "int8", [1 / 256], [-128]),
    ]
    a = tflm_arena_32bit(parse_tflite(build_model(tensors, [Op("LOGISTIC", [0], [1])], [0], [1])), 16)
    b = tflm_arena_32bit(parse_tflite(build_model(tensors, [Op("SOFTMAX", [0], [1])], [0], [1])), 16)
    assert not a.exact and a.unmeasured == ("LOGISTIC",) and b.exact and b.unmeasured == ()
    assert a.persistent > b.persistent


def test_variable_tensors_are_persistent() -> None:
    """TFLM allocates each variable (state) tensor in the persistent part, 16-aligned: an int16 [1, 100] state adds
    208 bytes (200 rounded up), an int8 [1, 7] one 16, against the same tensors not marked variable. The figure
    missed them before (10 KiB on TFLM's own keyword benchmark model)."""

    def arena(variables: list[tuple[tuple[int, ...], str]], variable: bool) -> int:
        tensors = [T("x", (1, 8), "int8", [0.1], [0]), T("y", (1, 8), "int8", [0.1], [0])]
        tensors += [T(f"s{i}", s, d, [0.1], [0], variable=variable) for i, (s, d) in enumerate(variables)]
        return tflm_arena_32bit(parse_tflite(build_model(tensors, [Op("RELU", [0], [1])], [0], [1])), 16).persistent

    one = [((1, 100), "int16")]
    two = [*one, ((1, 7), "int8")]
    assert arena(one, True) - arena(one, False) == 208
    assert arena(two, True) - arena(two, False) == 224


def _small_ram_board(ram: int) -> Board:
    board = load_board("stm32f205")
    return board.model_copy(
        update={
            "memory": Memory(flash=Region(origin=0x08000000, size=0x100000), ram=Region(origin=0x20000000, size=ram))
        }
    )


@needs_mlperf
def test_ram_budget_refusal_names_bytes_needed_and_available(tmp_path: Path) -> None:
    """The arena fits (16,000 < 20 KiB) but arena + stack + runner do not: refused before any build. The one input
    and the one output are read and sent in the arena, so the runner adds no buffers for them."""
    path = MLPERF / "kws_ref_model.tflite"
    with pytest.raises(BadInput) as e:
        compile_model(path, _small_ram_board(20 * 1024), tmp_path, compare_tflm=False)
    msg = str(e.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg
    need = 16000 + 8192 + 256
    assert f"needs {need} bytes of RAM" in msg and "the board has 20480" in msg
    assert "arena 16000" in msg and "stack 8192" in msg and "buffer" not in msg
    cm = compile_model(path, _small_ram_board(need), tmp_path, compare_tflm=False)
    assert sum(cm.ram_budget.values()) == need


def test_cosim_compile_refuses_exit_2_without_linker_output(tmp_path: Path) -> None:
    """`cosim compile` of a model whose RAM budget does not fit the board: exit 2, one line naming needed vs
    available bytes, nothing from a linker."""
    tensors = [
        T("x", (1, 16), "int8", [0.1], [0]),
        T("w", (3000, 16), "int8", [0.01], [0], data=np.ones((3000, 16), np.int8)),
        T("y", (1, 3000), "int8", [0.1], [0]),
    ]
    model = tmp_path / "wide.tflite"
    model.write_bytes(build_model(tensors, [Op("FULLY_CONNECTED", [0, 1, -1], [2])], [0], [2]))
    board = yaml.safe_load(board_path("stm32f205").read_text())
    board["id"] = "tiny_ram"
    board["memory"]["ram"]["size"] = 10 * 1024  # the 3,024-byte arena fits; arena + stack + runner do not
    board_file = tmp_path / "tiny_ram.yaml"
    board_file.write_text(yaml.safe_dump(board))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tinyml_cosim.cli.app",
            "compile",
            str(model),
            "--board",
            str(board_file),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        timeout=120,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    need = 3024 + 8192 + 256  # arena (holding the input and output the runner reads and sends), stack, runner
    assert len(lines) == 1 and f"needs {need} bytes of RAM" in lines[0] and "the board has 10240" in lines[0]
    assert "region" not in lines[0] and "ld:" not in lines[0]
