"""Exact counts for foreign firmware (issue #14 item 3): the QEMU plugin's totals and budget stops, and the labelled
fallback without it."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from cosim_testing import needs_qemu
from elftools.elf.elffile import ELFFile
from foreign import build_foreign
from typer.testing import CliRunner

from tinyml_cosim.build.firmware import build
from tinyml_cosim.cli.app import app
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines.qemu import plugin
from tinyml_cosim.engines.qemu.engine import PLUGIN_ENV, QemuEngine
from tinyml_cosim.run.record import RunRecord, Status, accuracy_text
from tinyml_cosim.run.session import RunRequest, run_firmware

F405 = load_board("stm32f405")
PLUGIN_MISSING = plugin.unavailable_reason()
needs_plugin = pytest.mark.skipif(PLUGIN_MISSING is not None, reason=f"exact-count plugin: {PLUGIN_MISSING}")
pytestmark = needs_qemu


def run(elf: Path, **kw) -> RunRecord:
    kw.setdefault("timeout_s", 60)
    return run_firmware(RunRequest(elf=elf, board="stm32f405", **kw))


def halfword_at(elf: Path, address: int) -> int:
    with open(elf, "rb") as fh:
        for seg in ELFFile(fh).iter_segments(type="PT_LOAD"):
            if seg["p_vaddr"] <= address < seg["p_vaddr"] + seg["p_filesz"]:
                off = address - seg["p_vaddr"]
                return int.from_bytes(seg.data()[off : off + 2], "little")
    raise AssertionError(f"0x{address:08x} is in no loaded segment of {elf}")


def elf_of(name: str) -> Path:
    """The project's `foreign_*` apps (cosim build) or a vendor-way firmware of tests/firmware/foreign."""
    return build(F405, name).elf if name.startswith("foreign_") else build_foreign(name)


def test_accuracy_wording() -> None:
    assert accuracy_text(True, 0) == "exact"
    assert accuracy_text(True, 235_623) == "approximate (±235,623)"  # a budget stop that landed past its budget
    assert accuracy_text(False, 1_234) == "approximate (±1,234)"
    assert accuracy_text(False, -1) == "approximate (bound unknown)"


def test_without_the_header_the_plugin_says_how_to_get_it(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(plugin.INCLUDE_ENV, str(tmp_path))
    monkeypatch.setattr(plugin, "header_cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(plugin.Path, "is_file", lambda self: False)
    reason = plugin.unavailable_reason()
    assert reason is not None and "qemu-plugin.h" in reason and "make qemu-plugin-header" in reason


@needs_plugin
@pytest.mark.parametrize(
    ("name", "function", "budget"),
    [("busy_loop", "work", 20_000), ("foreign_hello", "heartbeat_delay", 3_000_000),
     ("hal_clock_timeout", "HAL_GetTick", 2_000_000)],
)  # fmt: skip
def test_plugin_count_equals_qemus_icount(monkeypatch, name: str, function: str, budget: int) -> None:
    """At every breakpoint of a --measure run (a stopped CPU, nothing in flight) the plugin's count is the count
    QEMU's -icount gives without the plugin: every call's entry count and length, interrupts (SysTick) and device
    accesses (USART, RCC) included; and the budget stop is exact in both."""
    elf = elf_of(name)
    counted = []
    for setting in ("on", "off"):
        monkeypatch.setenv(PLUGIN_ENV, setting)
        rec = run(elf, max_instructions=budget, measure=(function,))
        assert rec.status is Status.BUDGET_REACHED
        counted.append([(m.begin, m.instructions) for m in rec.measurements])
    with_plugin, qemus = counted
    assert len(with_plugin) >= 4 and with_plugin == qemus


@needs_plugin
def test_a_faulting_access_counts_once_in_the_plugin_and_not_in_qemu() -> None:
    """The documented difference: a precise BusFault's load started (plugin) but never retired (QEMU); the count the
    engine reports at a stopped CPU is QEMU's."""
    image = load_image(elf_of("foreign_fault"), F405)
    with QemuEngine(F405) as engine:
        engine.start(image, engine.transport())
        time.sleep(0.3)
        engine._qmp_cmd("stop")
        assert engine.read_fault_registers().cfsr & (1 << 9)  # PRECISERR
        assert engine.plugin_instructions() == engine.qemu_icount() + 1
        assert engine.instructions() == engine.qemu_icount()


@needs_plugin
def test_foreign_total_is_identical_run_to_run_and_is_the_plugins_count() -> None:
    elf = build_foreign("busy_loop", ITERATIONS="200000")
    records = [run(elf) for _ in range(3)]
    totals = {r.instructions for r in records}
    assert all(r.status is Status.EXITED and r.exit_code == 0 for r in records)
    assert len(totals) == 1 and all(r.instructions_exact and r.instructions_accuracy == "exact" for r in records)
    total = totals.pop()
    # One instruction short of the total, the plugin holds the CPU at the semihosting exit's BKPT.
    rec = run(elf, max_instructions=total - 1)
    assert rec.status is Status.BUDGET_REACHED and rec.instructions == total - 1 and rec.instructions_exact
    assert halfword_at(elf, rec.pc) == 0xBEAB  # bkpt 0xab: SYS_EXIT, not yet executed


@needs_plugin
def test_a_5m_budget_stops_at_exactly_5_000_000() -> None:
    elf = elf_of("foreign_hello")
    first, second = (run(elf, max_instructions=5_000_000) for _ in range(2))
    for rec in (first, second):
        assert rec.status is Status.BUDGET_REACHED and rec.succeeded
        assert rec.instructions == 5_000_000 and rec.instructions_exact and rec.instructions_precision == 0
        assert rec.instructions_accuracy == "exact" and "past the budget" not in rec.diagnosis
    assert (first.pc, first.lr, first.sp, first.xpsr) == (second.pc, second.lr, second.sp, second.xpsr)


@needs_plugin
def test_a_budget_below_the_checking_window_is_exact_too() -> None:
    rec = run(elf_of("foreign_hello"), max_instructions=1_000)
    assert rec.status is Status.BUDGET_REACHED and rec.instructions == 1_000 and rec.instructions_exact


@needs_plugin
def test_a_clean_exit_reports_its_real_count() -> None:
    rec = run(build_foreign("semihosting_printf"))
    assert rec.status is Status.EXITED and rec.exit_code == 0
    assert rec.instructions and rec.instructions > 1_000 and rec.instructions_accuracy == "exact"
    assert f"after {rec.instructions:,} instructions" in rec.diagnosis


@needs_plugin
def test_cli_says_exact(tmp_path) -> None:
    result = CliRunner().invoke(
        app, ["run", "--board", "stm32f405", "--max-instructions", "2000000", str(elf_of("foreign_hello"))]
    )
    assert result.exit_code == 0, result.output
    assert "stopped at 2,000,000 instructions [count exact]" in result.stderr


def test_without_the_plugin_counts_are_labelled_approximate_with_their_bound(monkeypatch) -> None:
    monkeypatch.setenv(PLUGIN_ENV, "off")
    elf = build_foreign("busy_loop", ITERATIONS="200000")
    rec = run(elf)
    assert rec.status is Status.EXITED and not rec.instructions_exact and rec.instructions_precision > 0
    assert rec.instructions_accuracy == f"approximate (±{rec.instructions_precision:,})"
    if PLUGIN_MISSING is None:  # the truth is known: the bound holds it
        monkeypatch.delenv(PLUGIN_ENV)
        exact = run(elf).instructions
        assert exact is not None and rec.instructions <= exact <= rec.instructions + rec.instructions_precision
    monkeypatch.setenv(PLUGIN_ENV, "off")
    budget = run(elf_of("foreign_hello"), max_instructions=5_000_000)
    assert budget.status is Status.BUDGET_REACHED
    over = budget.instructions - 5_000_000
    assert budget.instructions_precision == over
    assert budget.instructions_accuracy == ("exact" if over == 0 else f"approximate (±{over:,})")
    result = CliRunner().invoke(app, ["run", "--board", "stm32f405", str(elf)])
    assert result.exit_code == 0 and "[count approximate (±" in result.stderr


def _words(count: int, state: plugin.PluginState, budget: int) -> bytes:
    """The plugin's shared page as icount.c lays it out (plugin.py's own layout: the test follows it)."""
    return plugin._LAYOUT.pack(int.from_bytes(plugin._MAGIC, "little"), count, state, 0x08000100, budget, 0, 0, 0)


def _page(path: Path, count: int, state: plugin.PluginState, budget: int) -> None:
    path.write_bytes(_words(count, state, budget).ljust(4096, b"\0"))


def test_a_hold_pending_at_the_budget_is_waited_for_before_the_host_stops_the_cpu(tmp_path: Path) -> None:
    # The count reaches the budget one callback before the hold starts: a stop sent in between would hang QEMU.
    state = tmp_path / "icount.state"
    _page(state, 500, plugin.PluginState.RUNNING, budget=500)
    counter = plugin.PluginCounter(state)
    held = _words(500, plugin.PluginState.HELD, budget=500)
    fd = os.open(state, os.O_WRONLY)  # the page changes in place, as the plugin writes it
    threading.Timer(0.05, lambda: os.pwrite(fd, held, 0)).start()
    snap = counter.settle(lambda: True)
    os.close(fd)
    assert snap is not None and snap.state is plugin.PluginState.HELD and snap.count == 500


def test_settling_returns_at_once_below_the_budget_and_gives_up_on_a_cpu_asleep_at_it(tmp_path: Path) -> None:
    state = tmp_path / "icount.state"
    _page(state, 499, plugin.PluginState.RUNNING, budget=500)
    counter = plugin.PluginCounter(state)
    asked: list[bool] = []
    assert counter.settle(lambda: asked.append(True) or True, patience_s=60).state is plugin.PluginState.RUNNING
    assert asked == []  # nothing pending: not even a look at QEMU
    _page(state, 500, plugin.PluginState.RUNNING, budget=500)
    counter.close()
    snap = counter.settle(lambda: True, patience_s=0.1)  # asleep in WFI at the budget: stoppable after patience
    assert snap is not None and snap.state is plugin.PluginState.RUNNING and snap.count == 500
    assert counter.settle(lambda: False, patience_s=60).count == 500  # QEMU gone: no wait either
