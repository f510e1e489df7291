"""Issue #14 item 1 on QEMU: semihosting console output (SYS_WRITEC, SYS_WRITE0, newlib rdimon's printf to the
":tt" stdout and stderr handles) reaches the console in order with USART output, and is never a diagnosis's reason."""

from __future__ import annotations

from cosim_testing import needs_qemu
from foreign import build_foreign

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines.base import RunLimits
from tinyml_cosim.engines.qemu.engine import QemuEngine
from tinyml_cosim.run.record import Status
from tinyml_cosim.run.session import RunRequest, run_firmware

pytestmark = needs_qemu
F405 = load_board("stm32f405")

INTERLEAVED = [
    "usart: line",
    "printf: line 1",
    "usart: line",
    "printf: line 2",
    "usart: line",
    "printf: line 3",
    "write0: line",
    "usart: after write0",
    "writec: line",
    "stderr: line",
    "usart: last",
]


def test_semihosting_and_usart_lines_arrive_in_the_firmware_order() -> None:
    rec = run_firmware(RunRequest(elf=build_foreign("semihosting_usart"), board="stm32f405", timeout_s=60))
    assert rec.status is Status.EXITED and rec.exit_code == 0
    assert rec.console_tail == INTERLEAVED


def test_order_holds_run_after_run() -> None:
    elf = build_foreign("semihosting_usart")
    for _ in range(3):
        rec = run_firmware(RunRequest(elf=elf, board="stm32f405", timeout_s=60))
        assert rec.console_tail == INTERLEAVED


def test_console_stream_and_engine_log_are_apart() -> None:
    """The console stream (what Robot waits on) has every line; QEMU's own log has none of the firmware's text."""
    image = load_image(build_foreign("semihosting_usart"), F405)
    with QemuEngine(F405) as engine:
        engine.start(image, engine.transport())
        engine.console.expect("usart: last", timeout=30)
        engine.run(RunLimits(timeout_s=30))
        log = engine.log_path.read_text() if engine.log_path and engine.log_path.exists() else ""
        lines = engine.console.lines()
    assert [ln for ln in lines if ln] == INTERLEAVED
    assert "line" not in log


def test_rdimon_printf_reaches_the_console() -> None:
    rec = run_firmware(RunRequest(elf=build_foreign("semihosting_printf"), board="stm32f405", timeout_s=60))
    assert "semihosting_printf: hello from newlib" in rec.console_tail
    assert "semihosting_printf: to stderr" in rec.console_tail
    assert rec.console_tail.index("semihosting_printf: line 3 of 3") < rec.console_tail.index(
        "semihosting_printf: to stderr"
    )
