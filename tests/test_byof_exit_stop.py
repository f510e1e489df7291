"""What QEMU takes with it when a firmware exits through semihosting, read before it goes (engines/qemu/exitsites.py):
a GDB breakpoint on each `bkpt 0xab` that may be SYS_EXIT/EXIT_EXTENDED stops the CPU on the exit, the host reads the
painted stack's high-water mark (issue #14) and, in a --measure run, QEMU's exact count (the project's firmware
counts on virtual time, which debugger stops move: its own total said ~2^32), then lets the exit happen."""

from __future__ import annotations

from pathlib import Path

import pytest
from cosim_testing import needs_qemu, needs_toolchain
from foreign import build_foreign

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.elf.stack_region import stack_region
from tinyml_cosim.engines.base import EndKind, RunLimits
from tinyml_cosim.engines.qemu.engine import QemuEngine
from tinyml_cosim.engines.qemu.exitsites import NOT_AN_INSTRUCTION, exit_sites, r0_values
from tinyml_cosim.run.record import RunRecord, Status
from tinyml_cosim.run.session import RunRequest, run_firmware

BOARD = load_board("stm32f405")
BASE = 0x08000100


def run(elf: Path, **kw) -> RunRecord:
    kw.setdefault("timeout_s", 60)
    return run_firmware(RunRequest(elf=elf, board="stm32f405", engine="qemu", **kw))


def thumb(*halfwords: int) -> bytes:
    return b"".join(h.to_bytes(2, "little") for h in halfwords)


BKPT = 0xBEAB


@pytest.mark.parametrize(
    ("code", "r0"),
    [
        (thumb(0x2018, BKPT), {0x18}),  # movs r0, #0x18; bkpt 0xab (cosim.h's inline semihosting call)
        (thumb(0x2405, 0x4620, 0x4629, BKPT), {5}),  # movs r4, #5; mov r0, r4; mov r1, r5 (newlib's _write)
        (thumb(0x2018, 0xF000, 0xF800, BKPT), {None}),  # movs r0, #0x18; bl: r0 is the callee's now
        # cmp r0, #5; ite eq; moveq r4, #0x18; movne r4, #0x20; mov r0, r4 (newlib's _kill_shared)
        (thumb(0x2805, 0xBF0C, 0x2418, 0x2420, 0x4620, BKPT), {0x18, 0x20, None}),
        # movs r0, #3; bkpt; ...; bne back to the bkpt: a loop keeps r0 = 3 (semihosting_usart's SYS_WRITEC)
        (thumb(0x2003, BKPT, 0x2C00, 0xD1FC), {3}),
        # movs r0, #5; cbz r1 -> the bkpt; movs r0, #0x18; bkpt: two paths join
        (thumb(0x2005, 0xB109, 0x2018, 0xBF00, BKPT), {5, 0x18}),
        (thumb(0x4620, BKPT), {None}),  # mov r0, r4 with r4 passed in
        (thumb(0xF7FF, BKPT), NOT_AN_INSTRUCTION),  # b.w whose second halfword reads beab
    ],
)
def test_values_r0_may_hold_at_a_semihosting_call(code: bytes, r0: set | int) -> None:
    site = BASE + code.index(BKPT.to_bytes(2, "little"), 1 if code[:2] == thumb(0xF7FF) else 0)
    assert r0_values(code, BASE, site) == r0


@needs_toolchain
@pytest.mark.parametrize("name", ["semihosting_printf", "semihosting_usart"])
def test_exit_sites_are_newlibs_exit_only(name: str) -> None:
    image = load_image(build_foreign(name), BOARD)  # semihosting_usart: its own SYS_WRITE0/WRITEC calls too
    sites = exit_sites(image.path)
    # rdimon's _kill_shared: SYS_EXIT or SYS_EXIT_EXTENDED (moveq/movne r4) and the fallback after it; _write,
    # _read, _swiclose ... (39 semihosting calls in all) load other constants and get no breakpoint
    assert len(sites) == 2 and all((image.symbolize(s) or "").startswith("_kill_shared+") for s in sites)


@needs_toolchain
@needs_qemu
@pytest.mark.parametrize(("stack_bytes", "total", "used"), [(0, 7_939, 508), (4096, 50_775, 4_112)])
def test_stack_high_water_of_a_firmware_that_exits_through_semihosting(stack_bytes: int, total: int, used: int) -> None:
    elf = build_foreign("semihosting_printf", STACK_BYTES=str(stack_bytes))
    r = run(elf)
    assert r.status == Status.EXITED and r.exit_code == 0
    assert r.instructions == total and r.instructions_exact
    assert r.stack_used == used and "read at the semihosting exit" in r.stack_used_source
    if stack_bytes:
        assert r.stack_used > stack_bytes
    # the same figure as a budget stop two instructions before the end reads with QEMU still there: exact to the byte
    held = run(elf, max_instructions=total - 2)
    assert held.status == Status.BUDGET_REACHED and held.stack_used == used


@needs_toolchain
@needs_qemu
def test_the_exit_stop_changes_no_count() -> None:
    """The same firmware with no painted stack (no exit breakpoint) retires the same instructions."""
    image = load_image(build_foreign("semihosting_printf", STACK_BYTES="4096"), BOARD)
    counts = []
    for region in (None, stack_region(image, BOARD)):
        with QemuEngine(BOARD) as engine:
            engine.stack_paint = region
            engine.start(image, engine.transport())
            ending = engine.run(RunLimits(timeout_s=60))
            assert ending.kind == EndKind.EXITED and ending.instructions_exact
            counts.append(ending.instructions)
            assert engine.exit_site_stops == 0  # stopped once, at the exit, nowhere else
            assert (engine.stack_used_at_exit is None) == (region is None)
    assert counts == [50_775, 50_775]


@needs_qemu
def test_measure_total_of_the_projects_firmware_is_qemus_count_at_the_exit(firmware) -> None:
    """TIM2 counts virtual time, which each breakpoint stop jumps to the next timer deadline (TIM2's wrap): the EXIT
    event said 4,295,025,473. The total is QEMU's own count on the exit's bkpt; per-call counts are unchanged."""
    r = run(firmware("spans"), measure=("work",))
    assert r.status == Status.EXITED and r.exit_code == 0
    assert [m.instructions for m in r.measurements] == [6_004, 30_004]
    exit_event = next(e for e in r.events if e.kind == "EXIT")
    assert exit_event.instructions > 1 << 32  # the firmware's own, moved by the stops
    # more than a free run's 67,793: the stops' clock jumps make the firmware print longer numbers
    assert r.instructions == 70_266 and r.instructions_exact and r.instructions_precision == 0
    assert "qemu's own count at the semihosting exit" in r.diagnosis and "after 70,266 instructions" in r.diagnosis
