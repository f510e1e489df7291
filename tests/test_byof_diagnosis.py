"""Issue #14 item 4: diagnosis hints for firmware built the vendor way (tests/firmware/foreign/*: own start-up, own
linker script, no cosim.h), on QEMU: which stack a fault's frame is on and the faulting PC from the process stack,
the vector table checked at load, an SP below RAM, CCM as an engine gap, flash writes, earlier peripheral polls with
the caller chain, and every PC and LR named down to the source line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cosim_testing import needs_qemu
from foreign import build_foreign
from typer.testing import CliRunner

from tinyml_cosim.cli.app import app
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.cortex_m import frame_on_process_stack
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.elf.callers import only_caller_chain
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines.base import CpuState, Ending, EndKind
from tinyml_cosim.run.diagnosis import classify
from tinyml_cosim.run.record import RunRecord, Status
from tinyml_cosim.run.session import RunRequest, run_firmware

BOARD = "stm32f405"


def run(elf: Path, **kw) -> RunRecord:
    kw.setdefault("timeout_s", 120)
    return run_firmware(RunRequest(elf=elf, board=BOARD, engine="qemu", **kw))


# --- load-time checks (no engine) ---


def test_even_reset_vector_is_refused_in_one_line_exit_2() -> None:
    elf = build_foreign("even_vector", VECTOR="even_reset")
    with pytest.raises(BadInput, match=r"the reset vector 0x0800[0-9a-f]{4} has bit 0 clear \(not a Thumb address\)"):
        load_image(elf, load_board(BOARD))
    result = CliRunner().invoke(app, ["run", str(elf), "--board", BOARD])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "reset vector" in result.output


@pytest.mark.parametrize(
    ("vector", "said"),
    [
        ("even_hardfault", r"the HardFault handler 0x0800[0-9a-f]{4} has bit 0 clear \(not a Thumb address\)"),
        ("outside_hardfault", r"the HardFault handler 0x30000001 lies outside flash and RAM"),
        ("bad_sp", r"the initial SP 0x30000000 lies outside stm32f405's RAM 0x20000000\.\.0x20020000"),
    ],
)
def test_questionable_vectors_are_one_warning_each(vector: str, said: str) -> None:
    image = load_image(build_foreign("even_vector", VECTOR=vector), load_board(BOARD))
    assert len(image.warnings) == 1
    assert re.search(said, image.warnings[0]), image.warnings


def test_a_right_vector_table_has_no_warning() -> None:
    assert load_image(build_foreign("even_vector", VECTOR="none"), load_board(BOARD)).warnings == []


def test_addresses_named_with_function_and_source_line() -> None:
    image = load_image(build_foreign("hal_clock_timeout"), load_board(BOARD))
    start, _end = image.function_range("HAL_RCC_OscConfig")
    text = image.describe(start)
    assert text.startswith(f"0x{start:08x} in HAL_RCC_OscConfig (main.c:") and text.endswith(")")
    # a vendor start-up's weak aliases (HardFault_Handler, ...) are named after the function they alias
    assert image.symbolize(image.symbol("HardFault_Handler")) == "Default_Handler"


def test_caller_chain_only_where_each_caller_is_the_only_one() -> None:
    elf = build_foreign("hal_clock_timeout")
    board = load_board(BOARD)
    assert only_caller_chain(elf, board, "HAL_RCC_OscConfig")[:2] == ["SystemClock_Config", "main"]
    assert only_caller_chain(elf, board, "Reset_Handler") == []  # reached through the vector table only


def test_ccm_sections_load_the_chip_has_ccm() -> None:
    image = load_image(build_foreign("ccm_write"), load_board(BOARD))
    assert any(s.name == ".ccmram" and s.address == 0x10000000 for s in image.sections)


# --- the rendering, from an engine's raw facts ---


def test_exc_return_bit_2_decides_the_stack() -> None:
    assert frame_on_process_stack(0xFFFFFFFD) is True
    assert frame_on_process_stack(0xFFFFFFF9) is False and frame_on_process_stack(0xFFFFFFF1) is False
    assert frame_on_process_stack(0x08000123) is None


def test_earlier_polls_named_with_callers_when_the_run_ends_in_error_handler() -> None:
    elf = build_foreign("hal_clock_timeout")
    board = load_board(BOARD)
    image = load_image(elf, board)
    oscconfig, _ = image.function_range("HAL_RCC_OscConfig")
    stuck, _ = image.function_range("Error_Handler")
    ending = Ending(
        EndKind.STALLED, instructions=5, instructions_exact=True, cpu=CpuState(stuck + 2, 0x08000001, 0x2001FFF0, 0),
        pc_samples=[stuck + 2], recent_polls=[(oscconfig + 0x18, 0x40023800)],
    )  # fmt: skip
    v = classify(ending, [], image, board, "qemu")
    assert v.status == Status.HANG and "Error_Handler" in v.diagnosis
    assert "earlier the firmware polled RCC_CR (0x40023800)" in v.diagnosis
    assert "in HAL_RCC_OscConfig+0x18 (main.c:" in v.diagnosis
    assert "called from SystemClock_Config ← main" in v.diagnosis
    assert v.diagnosis.endswith("a register qemu may not model; use --engine renode")


def test_a_budget_that_runs_out_while_or_after_polling_names_the_poll() -> None:
    elf = build_foreign("hal_clock_timeout")
    board = load_board(BOARD)
    image = load_image(elf, board)
    oscconfig, _ = image.function_range("HAL_RCC_OscConfig")
    gettick, _ = image.function_range("HAL_GetTick")
    stuck, _ = image.function_range("Error_Handler")
    polls = [(oscconfig + 0x18, 0x40023800)]
    # held in HAL_GetTick, called from the polling loop (LR in HAL_RCC_OscConfig): still polling
    while_polling = Ending(EndKind.BUDGET, instructions=8, instructions_exact=True, recent_polls=polls,
                           cpu=CpuState(gettick + 2, (oscconfig + 0x20) | 1, 0x2001FFE8, 0))  # fmt: skip
    v = classify(while_polling, [], image, board, "qemu")
    assert v.status == Status.BUDGET_REACHED
    assert "; the budget ran out while the firmware was polling RCC_CR (0x40023800) at 0x" in v.diagnosis
    assert "called from SystemClock_Config ← main" in v.diagnosis and v.diagnosis.endswith("use --engine renode")
    after = Ending(EndKind.BUDGET, instructions=8, instructions_exact=True, recent_polls=polls,
                   cpu=CpuState(stuck + 2, 0x08000001, 0x2001FFF0, 0))  # fmt: skip
    v = classify(after, [], image, board, "qemu")
    assert "; earlier the firmware polled RCC_CR (0x40023800) at 0x" in v.diagnosis
    assert "in HAL_RCC_OscConfig+0x18 (main.c:" in v.diagnosis and v.diagnosis.endswith("use --engine renode")
    assert "polled" not in classify(Ending(EndKind.BUDGET, instructions=8), [], image, board, "qemu").diagnosis


def test_no_poll_hint_for_a_clean_exit() -> None:
    image = load_image(build_foreign("hal_clock_timeout"), load_board(BOARD))
    ending = Ending(EndKind.EXITED, instructions=5, exit_code=0, recent_polls=[(0x08000100, 0x40023800)])
    assert "polled" not in classify(ending, [], image, load_board(BOARD), "qemu").diagnosis


# --- on QEMU ---


@needs_qemu
def test_fault_on_the_process_stack_gets_its_faulting_pc() -> None:
    r = run(build_foreign("rtos_psp_fault"))
    assert r.status == Status.FAULT
    assert r.pc_symbol is not None and r.pc_symbol.startswith("sensor_write")
    assert "frame on the process stack (PSP)" in r.diagnosis and "main stack" not in r.diagnosis
    assert "LR 0x" in r.diagnosis and "in vSensorTask" in r.diagnosis and "(main.c:" in r.diagnosis
    assert "BFAR=0x60000000" in r.diagnosis


@needs_qemu
def test_main_stack_overflow_is_told_as_such() -> None:
    r = run(build_foreign("stack_overflow_msp"))
    assert r.status == Status.FAULT
    assert "the main stack (MSP)" in r.diagnosis and "process stack" not in r.diagnosis
    assert "is below RAM (0x20000000): stack overflow" in r.diagnosis


@needs_qemu
def test_ccm_write_is_an_engine_gap() -> None:
    r = run(build_foreign("ccm_write"))
    assert r.status == Status.FAULT and r.pc_symbol is not None and r.pc_symbol.startswith("fill_ccm")
    assert (
        "0x10000000 is CCM RAM on the STM32F405RG, not mapped by qemu's netduinoplus2: an engine gap, not a "
        "firmware bug; use --engine renode" in r.diagnosis
    )


@needs_qemu
def test_flash_write_is_reported() -> None:
    r = run(build_foreign("flash_write"), hang_instructions=20_000_000)
    assert "firmware wrote to flash at 0x080e0000 at 0x" in r.diagnosis
    assert "in HAL_FLASH_Program+" in r.diagnosis and "which qemu ignores" in r.diagnosis


@needs_qemu
def test_no_flash_write_no_flash_hint() -> None:
    r = run(build_foreign("ccm_write"))
    assert "wrote to flash" not in r.diagnosis


@needs_qemu
def test_hal_clock_timeout_names_rcc_and_the_caller_chain() -> None:
    # HAL's own 100 ms timeout (~9.5 M instructions) fires before the hang threshold; the run ends in Error_Handler.
    r = run(build_foreign("hal_clock_timeout"), hang_instructions=20_000_000)
    assert r.status == Status.HANG and r.pc_symbol is not None and r.pc_symbol.startswith("Error_Handler")
    assert "RCC_CR" in r.diagnosis and "0x40023800" in r.diagnosis
    assert "SystemClock_Config ← main" in r.diagnosis


@needs_qemu
@pytest.mark.parametrize(
    ("limit", "said"),
    [
        ({"max_instructions": 2_000_000}, "the budget ran out while the firmware was polling RCC_CR (0x40023800)"),
        # 0.06 s simulated (10,080,000 instructions) is past HAL's 100 ms timeout: the firmware is in Error_Handler
        ({"duration_s": 0.06}, "earlier the firmware polled RCC_CR (0x40023800)"),
    ],
)
def test_hal_clock_timeout_with_a_budget_names_rcc_and_the_caller_chain(limit: dict, said: str) -> None:
    r = run(build_foreign("hal_clock_timeout"), **limit)
    assert r.status == Status.BUDGET_REACHED and r.instructions_exact
    assert said in r.diagnosis and "in HAL_RCC_OscConfig+0x18 (main.c:" in r.diagnosis
    assert "called from SystemClock_Config ← main" in r.diagnosis and r.diagnosis.endswith("use --engine renode")
