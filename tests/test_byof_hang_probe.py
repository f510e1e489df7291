"""The wall-clock hang rule's look at where a quiet foreign firmware runs (issue #14): it reads QEMU's exec trace with
the CPU running on, and stops nothing, so a firmware that is busy but quiet retires exactly what it retires unwatched
(systick_busy: how many rounds fit before SysTick's last tick shows any move of the virtual clock)."""

from __future__ import annotations

from cosim_testing import needs_qemu, needs_toolchain
from foreign import build_foreign

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines.base import EndKind, RunLimits
from tinyml_cosim.engines.qemu.engine import QemuEngine

pytestmark = [needs_toolchain, needs_qemu]
F405 = load_board("stm32f405")
SYSTICK_BUSY_TOTAL = 95_244_105  # TICKS=1000: 1,000 SysTick periods of work() rounds, then exit(0)


def run_watched(hang_wall_s: float) -> tuple[EndKind, int | None, int, list[str]]:
    image = load_image(build_foreign("systick_busy", TICKS="1000"), F405)
    with QemuEngine(F405) as engine:
        engine.start(image, engine.transport())
        sent: list[str] = []
        qmp = engine._qmp_cmd

        def recording(cmd: str, **args: object) -> object:
            sent.append(cmd)
            return qmp(cmd, **args)

        engine._qmp_cmd = recording  # type: ignore[method-assign]
        ending = engine.run(RunLimits(timeout_s=120, hang_wall_s=hang_wall_s))
        return ending.kind, ending.instructions, engine.hang_probes, sent


def test_the_hang_probe_moves_no_count_and_stops_nothing() -> None:
    quiet_kind, quiet_total, quiet_probes, _ = run_watched(30.0)  # the default: never looks in a sub-second run
    # looks after every 5 ms of silence; how many looks fit in the run's ~0.2 s of wall time depends on the host (a
    # look samples PCs for a while itself: 2 to 6 were seen), so only that it looked at all is asserted
    kind, total, probes, sent = run_watched(0.005)
    assert quiet_kind == kind == EndKind.EXITED and quiet_probes == 0
    assert probes >= 1, "the probe never looked: nothing shown"
    assert quiet_total == total == SYSTICK_BUSY_TOTAL
    assert "stop" not in sent and "cont" not in sent  # the CPU ran on through every look


def test_a_confined_loop_is_still_a_hang() -> None:
    hang_seconds = 0.5
    image = load_image(build_foreign("usart_rx_poll"), F405)
    with QemuEngine(F405) as engine:
        engine.start(image, engine.transport())
        ending = engine.run(RunLimits(timeout_s=120, hang_wall_s=hang_seconds))
    assert ending.kind == EndKind.STALLED and ending.hang_wall_s == hang_seconds
    assert ending.cpu is not None and (image.symbolize(ending.cpu.pc) or "").startswith("uart_getc")
    assert ending.polled_address == 0x40011000 and ending.polled_modelled  # USART1_SR, from the loop's own load
