"""Issue #14 item 2 on QEMU: foreign firmware stopped at its fault handler's entry in every run mode, lockup kept a
lockup, and a poll of a register QEMU models (USART RX) reported as a hang that names the register."""

from __future__ import annotations

from pathlib import Path

import pytest
from cosim_testing import needs_qemu
from foreign import build_foreign
from typer.testing import CliRunner

from tinyml_cosim.cli.app import app
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines.base import EndKind, RunLimits
from tinyml_cosim.engines.qemu.engine import QemuEngine
from tinyml_cosim.run.record import RunRecord, Status
from tinyml_cosim.run.session import RunRequest, run_firmware

pytestmark = needs_qemu
F405 = load_board("stm32f405")
# The fault is the firmware's ~8,000th instruction (newlib's start-up and one printf); a `b .` handler left to spin
# would be past any of the budgets below by the time the host looked.
NEAR_THE_FAULT = 20_000


def run(elf: Path, **kw) -> RunRecord:
    kw.setdefault("timeout_s", 60)
    return run_firmware(RunRequest(elf=elf, board="stm32f405", **kw))


def in_function(elf: Path, pc: int | None, name: str) -> bool:
    start, end = load_image(elf, F405).function_range(name)
    return pc is not None and start <= pc < end


def assert_bus_fault_in_read_sensor(elf: Path, rec: RunRecord) -> None:
    assert rec.status is Status.FAULT and not rec.succeeded and not rec.uses_cosim_runtime
    assert in_function(elf, rec.pc, "read_sensor")  # the stacked PC, not the handler's
    assert rec.cfsr is not None and rec.cfsr & (1 << 9) and rec.cfsr & (1 << 15)  # PRECISERR, BFARVALID
    assert rec.bfar == 0x60000000 and rec.hfsr is not None and rec.hfsr & (1 << 30)  # FORCED
    assert rec.instructions is not None and rec.instructions < NEAR_THE_FAULT
    assert "hardfault_b_dot: reading the sensor" in rec.console_tail


@pytest.mark.parametrize(
    "limits",
    [{}, {"max_instructions": 50_000_000}, {"duration_s": 1.0}],
    ids=["no-budget", "max-instructions", "duration"],
)
def test_b_dot_hardfault_is_a_fault_in_every_run_mode(limits) -> None:
    elf = build_foreign("hardfault_b_dot")
    assert_bus_fault_in_read_sensor(elf, run(elf, **limits))


def test_b_dot_hardfault_is_a_fault_under_measure() -> None:
    elf = build_foreign("hardfault_b_dot")
    rec = run(elf, max_instructions=50_000_000, measure=("read_sensor",))
    assert_bus_fault_in_read_sensor(elf, rec)
    assert rec.measurements == []  # read_sensor never returned


def test_fault_stop_counts_the_same_as_a_run_to_the_fault() -> None:
    """The breakpoint retires nothing: with and without a budget the run ends at the same instruction and PC."""
    elf = build_foreign("hardfault_b_dot")
    a, b = run(elf), run(elf, max_instructions=50_000_000)
    assert (a.instructions, a.pc, a.cfsr) == (b.instructions, b.pc, b.cfsr)


def test_cli_exit_code_of_a_fault_under_a_budget_is_1() -> None:
    elf = build_foreign("hardfault_b_dot")
    args = ["run", "--board", "stm32f405", "--max-instructions", "50000000", "--json", str(elf)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert '"status": "fault"' in result.stdout


def test_engine_reports_the_fault_entry_itself() -> None:
    elf = build_foreign("hardfault_b_dot")
    image = load_image(elf, F405)
    with QemuEngine(F405) as engine:
        engine.start(image, engine.transport())
        ending = engine.run(RunLimits(max_instructions=50_000_000, timeout_s=60))
    assert ending.kind is EndKind.FAULT and ending.cpu is not None
    assert ending.cpu.ipsr == 3 and image.symbolize(ending.cpu.pc) == "HardFault_Handler"
    assert "HardFault_Handler" in ending.message


def test_a_fault_inside_the_fault_handler_stays_a_lockup(firmware) -> None:
    elf = firmware("foreign_lockup")
    rec = run(elf, max_instructions=50_000_000)
    assert rec.status is Status.LOCKUP and in_function(elf, rec.pc, "broken_hardfault")
    assert "Lockup" in rec.diagnosis and "warning" not in rec.diagnosis


def test_polling_usart_rx_is_a_hang_naming_the_register() -> None:
    """QEMU models USART1: nothing unimplemented is read, so only the loop itself shows the firmware is stuck."""
    elf = build_foreign("usart_rx_poll")
    rec = run(elf, hang_seconds=2.0)
    assert rec.status is Status.HANG and in_function(elf, rec.pc, "uart_getc")
    assert rec.polled_address == 0x40011000
    assert "polling USART1_SR at 0x40011000" in rec.diagnosis
    assert "not modelled" not in rec.diagnosis
    assert "no console line for 2 s of wall-clock time" in rec.diagnosis and "--hang-seconds" in rec.diagnosis
    assert "usart_rx_poll: press a key" in rec.console_tail


def test_hang_seconds_must_be_positive() -> None:
    from tinyml_cosim.core.errors import BadInput

    with pytest.raises(BadInput, match=r"--hang-seconds must be positive"):
        run(build_foreign("usart_rx_poll"), hang_seconds=0)


def test_run_help_states_the_wall_clock_hang_timeout() -> None:
    result = CliRunner().invoke(app, ["run", "--help"], terminal_width=200)
    assert "--hang-seconds" in result.stdout and "default 30" in result.stdout


def test_polls_seen_during_the_run_are_kept_when_it_ends_elsewhere() -> None:
    """HAL's 100 ms HSE timeout ends the poll of RCC_CR and the firmware stops in Error_Handler; the engine still
    reports the poll, with the PC of the polling loop."""
    elf = build_foreign("hal_clock_timeout")
    image = load_image(elf, F405)
    with QemuEngine(F405) as engine:
        engine.start(image, engine.transport())
        ending = engine.run(RunLimits(timeout_s=120, hang_wall_s=10.0))
    assert ending.kind is EndKind.STALLED and ending.cpu is not None
    assert image.symbolize(ending.cpu.pc).startswith("Error_Handler")
    assert [(image.symbolize(pc).split("+")[0], reg) for pc, reg in ending.recent_polls] == [
        ("HAL_RCC_OscConfig", 0x40023800)
    ]


def test_watching_polls_does_not_move_the_count() -> None:
    """Logging never stops the CPU: the HAL timeout sends the firmware to Error_Handler at the same instruction
    with the watch on and off (a QMP stop would move the virtual clock and with it SysTick)."""
    image = load_image(build_foreign("hal_clock_timeout"), F405)
    counts = []
    for watch in (True, False):
        with QemuEngine(F405) as engine:
            engine.start(image, engine.transport(), halted=True)
            assert engine._fault_rsp is not None
            engine._fault_rsp.set_breakpoint(image.symbol("Error_Handler"))
            engine._fault_handlers[image.symbol("Error_Handler")] = "Error_Handler"  # a stop there ends the run
            if not watch:
                engine._poll_watch = None
                engine._hmp("log none")
            engine._qmp_cmd("cont")
            ending = engine.run(RunLimits(timeout_s=120))
            counts.append((ending.kind, ending.instructions, len(ending.recent_polls) > 0))
    assert counts == [(EndKind.FAULT, counts[0][1], True), (EndKind.FAULT, counts[0][1], False)]
